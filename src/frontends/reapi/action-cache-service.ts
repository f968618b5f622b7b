// ActionCache: GetActionResult answers a hit only when every referenced blob is present
// (rule 6, via getCompleteActionResult, which also refreshes them); UpdateActionResult
// validates the result, moves any inline bytes into the CAS, and stores the canonical
// encoding (protobufjs writes fields in tag order and drops unknown fields).
import { status } from '@grpc/grpc-js';
import type { ServiceImplementation } from './grpc-transport.ts';
import { hashBytes, type Digest } from '../../core/digest.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { acKey, casKey } from '../../core/keys.ts';
import { protoType, REAPI } from '../../core/proto.ts';
import { decodeActionResult } from '../../core/action-result.ts';
import { getCompleteActionResult } from '../../storage/action-cache.ts';
import { bytesOf, int64 } from './grpc-definitions.ts';
import { unary } from './handlers.ts';
import {
  checkDigestFunction,
  digestFrom,
  digestMsg,
  namespaceOf,
  type DigestMsg,
  type ReapiContext,
} from './request-context.ts';
import { grpcError } from './status.ts';

interface OutputFileMsg {
  path: string;
  digest?: DigestMsg | null;
  contents?: Uint8Array;
}
interface ActionResultMsg {
  outputFiles: OutputFileMsg[];
  outputDirectories: { path: string; treeDigest?: DigestMsg; rootDirectoryDigest?: DigestMsg }[];
  outputFileSymlinks: { path: string }[];
  outputDirectorySymlinks: { path: string }[];
  outputSymlinks: { path: string }[];
  stdoutRaw?: Uint8Array;
  stdoutDigest?: DigestMsg | null;
  stderrRaw?: Uint8Array;
  stderrDigest?: DigestMsg | null;
  executionMetadata?: { worker?: string } | null;
}
interface GetRequest {
  instanceName: string;
  actionDigest?: DigestMsg;
  inlineStdout: boolean;
  inlineStderr: boolean;
  inlineOutputFiles: string[];
  digestFunction: number;
}
interface UpdateRequest {
  instanceName: string;
  actionDigest?: DigestMsg;
  actionResult?: ActionResultMsg | null;
  digestFunction: number;
}

export function actionCacheService(ctx: ReapiContext): ServiceImplementation {
  const ActionResult = protoType(`${REAPI}.ActionResult`);
  const { store } = ctx;

  async function get(req: GetRequest, signal: AbortSignal): Promise<ActionResultMsg> {
    checkDigestFunction(req.digestFunction);
    const action = digestFrom(req.actionDigest, 'action_digest');
    const ns = namespaceOf(ctx, req.instanceName);
    const bytes = ctx.options.acCompleteness
      ? await getCompleteActionResult(store, action.hash, { namespace: ns, signal })
      : await store.getBytes(acKey(action.hash, ns), { signal });
    const ar = bytes === undefined ? undefined : decodeOrMiss(bytes);
    ctx.metrics?.lookup('grpc', 'ac', ar === undefined ? 'miss' : 'hit');
    if (bytes === undefined || ar === undefined) {
      throw grpcError(
        status.NOT_FOUND,
        `no complete action result for ${action.hash}/${action.sizeBytes} (never stored, or an output was evicted)`,
      );
    }
    // Inlining is a hint: fill what was asked, within a budget that keeps the reply under
    // older clients' 4 MiB limit; skip anything that does not fit or has vanished.
    let budget = ctx.options.inlineBudget - bytes.byteLength;
    const inline = async (d: DigestMsg | null | undefined): Promise<Buffer | undefined> => {
      const size = int64(d?.sizeBytes);
      if (!d?.hash || size === 0 || size > budget) return undefined;
      const data = await store.getBytes(casKey(d.hash, ns), { signal });
      if (data === undefined || data.byteLength !== size) return undefined;
      budget -= size;
      return data;
    };
    if (req.inlineStdout) ar.stdoutRaw = (await inline(ar.stdoutDigest)) ?? ar.stdoutRaw;
    if (req.inlineStderr) ar.stderrRaw = (await inline(ar.stderrDigest)) ?? ar.stderrRaw;
    if (req.inlineOutputFiles.length > 0) {
      const wanted = new Set(req.inlineOutputFiles);
      for (const f of ar.outputFiles) {
        if (wanted.has(f.path)) f.contents = (await inline(f.digest)) ?? f.contents;
      }
    }
    return ar;
  }

  async function update(req: UpdateRequest, signal: AbortSignal): Promise<ActionResultMsg> {
    checkDigestFunction(req.digestFunction);
    const action = digestFrom(req.actionDigest, 'action_digest');
    const ns = namespaceOf(ctx, req.instanceName);
    const ar = req.actionResult;
    if (!ar) throw new HoardError(ErrorCode.InvalidArgument, 'action_result is missing');
    validate(ar);
    // Inline bytes go to the CAS so stored results stay small and every output is a blob.
    const toCas = async (
      raw: Uint8Array | undefined,
      claimed: DigestMsg | null | undefined,
      field: string,
    ): Promise<DigestMsg | null | undefined> => {
      const data = bytesOf(raw);
      if (data.byteLength === 0) return claimed;
      const d: Digest = { hash: hashBytes(data), sizeBytes: data.byteLength };
      if (claimed?.hash && (claimed.hash !== d.hash || int64(claimed.sizeBytes) !== d.sizeBytes)) {
        throw new HoardError(
          ErrorCode.DigestMismatch,
          `${field}: inline bytes hash to ${d.hash}/${d.sizeBytes}, not to the digest given`,
        );
      }
      await store.put(casKey(d.hash, ns), data, { size: d.sizeBytes, signal });
      ctx.published.published(casKey(d.hash, ns));
      return digestMsg(d);
    };
    ar.stdoutDigest = await toCas(ar.stdoutRaw, ar.stdoutDigest, 'stdout_raw');
    ar.stdoutRaw = undefined;
    ar.stderrDigest = await toCas(ar.stderrRaw, ar.stderrDigest, 'stderr_raw');
    ar.stderrRaw = undefined;
    for (const [i, f] of ar.outputFiles.entries()) {
      f.digest = await toCas(f.contents, f.digest, `output_files[${i}].contents`);
      f.contents = undefined;
    }
    let encoded = ActionResult.encode(ar).finish();
    if (encoded.byteLength === 0) {
      // An all-default result would be stored as zero bytes; the spec asks for one
      // non-default field so a stored result is never empty.
      ar.executionMetadata = { ...(ar.executionMetadata ?? {}), worker: 'hoard' };
      encoded = ActionResult.encode(ar).finish();
    }
    await store.put(acKey(action.hash, ns), encoded, { signal });
    return ar;
  }

  /**
   * Not an ActionResult is a miss, not INTERNAL (which Bazel retries): the HTTP frontend's
   * raw mode may store any bytes under the same AC key, and with completeness off nothing
   * else has decoded them.
   */
  function decodeOrMiss(bytes: Uint8Array): ActionResultMsg | undefined {
    try {
      return decodeActionResult(bytes) as unknown as ActionResultMsg; // the service's own view of the same message
    } catch {
      return undefined;
    }
  }

  return {
    GetActionResult: unary(ctx, 'GetActionResult', get),
    UpdateActionResult: unary(ctx, 'UpdateActionResult', update),
  };
}

/** Every digest well-formed, every path relative and non-empty (INVALID_ARGUMENT). */
function validate(ar: ActionResultMsg): void {
  const path = (p: string, field: string, mayBeEmpty = false): void => {
    if ((!p && !mayBeEmpty) || p.startsWith('/') || p.split('/').some((s) => s === '..')) {
      throw new HoardError(
        ErrorCode.InvalidArgument,
        `${field}: path ${JSON.stringify(p)} must be relative, non-empty and without ".."`,
      );
    }
  };
  ar.outputFiles.forEach((f, i) => {
    path(f.path, `output_files[${i}].path`);
    if (bytesOf(f.contents).byteLength === 0 || f.digest) digestFrom(f.digest, `output_files[${i}].digest`);
  });
  ar.outputDirectories.forEach((d, i) => {
    path(d.path, `output_directories[${i}].path`, true);
    if (!d.treeDigest && !d.rootDirectoryDigest) {
      throw new HoardError(
        ErrorCode.InvalidArgument,
        `output_directories[${i}] has neither tree_digest nor root_directory_digest`,
      );
    }
    if (d.treeDigest) digestFrom(d.treeDigest, `output_directories[${i}].tree_digest`);
    if (d.rootDirectoryDigest) digestFrom(d.rootDirectoryDigest, `output_directories[${i}].root_directory_digest`);
  });
  for (const [name, list] of [
    ['output_symlinks', ar.outputSymlinks],
    ['output_file_symlinks', ar.outputFileSymlinks],
    ['output_directory_symlinks', ar.outputDirectorySymlinks],
  ] as const) {
    list.forEach((s, i) => path(s.path, `${name}[${i}].path`));
  }
  if (ar.stdoutDigest) digestFrom(ar.stdoutDigest, 'stdout_digest');
  if (ar.stderrDigest) digestFrom(ar.stderrDigest, 'stderr_digest');
}
