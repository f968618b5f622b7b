// ActionCache: decodes the two RPCs onto the cache service (src/cache), which owns the
// policy: GetActionResult answers a hit only when the service does (rule 6, lookups
// counted there), then inlines what was asked; UpdateActionResult hands the result to the
// service, which validates it, moves any inline bytes into the CAS and stores the
// canonical encoding.
import { status } from '@grpc/grpc-js';
import type { ServiceImplementation } from './grpc-transport.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { casKey } from '../../core/keys.ts';
import { decodeActionResult } from '../../core/action-result.ts';
import { CacheService } from '../../cache/cache-service.ts';
import type { ActionResultMessage } from '../../cache/action-result-validation.ts';
import { int64 } from './grpc-definitions.ts';
import { unary } from './handlers.ts';
import { checkDigestFunction, digestFrom, namespaceOf, type DigestMsg, type ReapiContext } from './request-context.ts';
import { grpcError } from './status.ts';

/** The REAPI frontend's protocol label in the metrics. */
const PROTOCOL = 'reapi';

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
  actionResult?: ActionResultMessage | null;
  digestFunction: number;
}

export function actionCacheService(ctx: ReapiContext): ServiceImplementation {
  const { store } = ctx;
  const cache = new CacheService({
    store,
    metrics: ctx.metrics,
    acCompleteness: ctx.options.acCompleteness,
    onCasPublished: (key) => ctx.published.published(key),
  });

  async function get(req: GetRequest, signal: AbortSignal): Promise<ActionResultMessage> {
    checkDigestFunction(req.digestFunction);
    const action = digestFrom(req.actionDigest, 'action_digest');
    const ns = namespaceOf(ctx, req.instanceName);
    const bytes = await cache.getActionResult(ns, action.hash, { protocol: PROTOCOL, signal });
    if (bytes === undefined) {
      throw grpcError(
        status.NOT_FOUND,
        `no complete action result for ${action.hash}/${action.sizeBytes} (never stored, or an output was evicted)`,
      );
    }
    const ar = decodeActionResult(bytes) as ActionResultMessage; // a hit always decodes
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
      for (const f of ar.outputFiles ?? []) {
        if (wanted.has(f.path)) f.contents = (await inline(f.digest)) ?? f.contents;
      }
    }
    return ar;
  }

  async function update(req: UpdateRequest, signal: AbortSignal): Promise<ActionResultMessage> {
    checkDigestFunction(req.digestFunction);
    const action = digestFrom(req.actionDigest, 'action_digest');
    const ns = namespaceOf(ctx, req.instanceName);
    if (!req.actionResult) throw new HoardError(ErrorCode.InvalidArgument, 'action_result is missing');
    return cache.putActionResult(ns, action.hash, req.actionResult, { signal });
  }

  return {
    GetActionResult: unary(ctx, 'GetActionResult', get),
    UpdateActionResult: unary(ctx, 'UpdateActionResult', update),
  };
}
