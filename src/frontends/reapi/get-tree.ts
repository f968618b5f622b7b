// ContentAddressableStorage.GetTree: the Directory graph under a root, breadth-first,
// each directory once, streamed in pages. NOT_FOUND only when the root is missing; a
// missing or undecodable subdirectory is left out (with its subtree). Page tokens are the
// count of directories already sent: the walk order is deterministic for given store
// contents, so a continuation re-walks and skips (a cache's trees are small enough, and
// MAX_WALK bounds what one call walks). Directories are sent as their stored bytes
// (encodeGetTreeResponse), decoded only to find their children: a re-encoded one could
// differ from what its digest names.
import { status } from '@grpc/grpc-js';
import type { CallHandler, GrpcCall } from './grpc-transport.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { casKey } from '../../core/keys.ts';
import { wellFormed } from './grpc-definitions.ts';
import { sendMessage, serverStream } from './handlers.ts';
import { DirectoryLimitError, walkDirectories } from '../../cache/directory-walk.ts';
import {
  checkDigestFunction,
  digestFrom,
  namespaceOf,
  wrongSize,
  type DigestMsg,
  type ReapiContext,
} from './request-context.ts';
import { grpcError } from './status.ts';

interface GetTreeRequest {
  instanceName: string;
  rootDigest?: DigestMsg;
  pageSize: number;
  pageToken: string;
  digestFunction: number;
}

const DEFAULT_PAGE_SIZE = 1000;
const MAX_PAGE_SIZE = 10_000;
/** Encoded bytes per page: under the 4 MiB inbound limit of older clients. */
const PAGE_BYTES = 3 * 1024 * 1024;
/** Distinct directories one call walks (absent ones included): bounds its time and memory. */
const MAX_WALK = 100_000;
const TOKEN = /^o([0-9]{1,9})$/;

export function getTreeHandler(ctx: ReapiContext): CallHandler {
  return serverStream(ctx, 'GetTree', (call, signal) => streamTree(ctx, call, signal));
}

async function streamTree(ctx: ReapiContext, call: GrpcCall, signal: AbortSignal): Promise<void> {
  const req = wellFormed(call.request as GetTreeRequest);
  checkDigestFunction(req.digestFunction);
  const root = digestFrom(req.rootDigest, 'root_digest');
  const ns = namespaceOf(ctx, req.instanceName);
  const pageSize =
    req.pageSize > 0 ? Math.min(req.pageSize, MAX_PAGE_SIZE) : req.pageSize === 0 ? DEFAULT_PAGE_SIZE : -1;
  if (pageSize < 0) throw grpcError(status.INVALID_ARGUMENT, `page_size ${req.pageSize} must not be negative`);
  const skip = parseToken(req.pageToken);

  let sent = skip;
  let page: Buffer[] = [];
  let pageBytes = 0;
  const flush = async (last: boolean): Promise<void> => {
    const msg = { directories: page, nextPageToken: last ? '' : `o${sent}` };
    page = [];
    pageBytes = 0;
    await sendMessage(call, msg, signal, ctx.options.bodyIdleTimeoutMs);
  };

  let index = 0;
  try {
    for await (const dir of walkDirectories(ctx.store, [root], ns, { max: MAX_WALK, signal })) {
      if (index === 0 && dir.bytes === undefined) {
        const size = await ctx.store.stat(casKey(root.hash, ns));
        if (size !== undefined) throw wrongSize(root.hash, size, root.sizeBytes);
        throw grpcError(status.NOT_FOUND, `root directory ${root.hash}/${root.sizeBytes} is not in the cache`);
      }
      if (index === 0 && dir.refs === undefined)
        throw new HoardError(ErrorCode.InvalidArgument, `root ${root.hash} is not a Directory message`);
      // Absent or undecodable subdirectories are left out, with their subtrees.
      if (dir.bytes === undefined || dir.refs === undefined) continue;
      if (index++ >= skip) {
        if (page.length > 0 && (page.length >= pageSize || pageBytes + dir.bytes.byteLength > PAGE_BYTES))
          await flush(false);
        page.push(dir.bytes);
        pageBytes += dir.bytes.byteLength;
        sent++;
      }
    }
  } catch (err) {
    if (!(err instanceof DirectoryLimitError)) throw err;
    throw grpcError(
      status.RESOURCE_EXHAUSTED,
      `the tree under ${root.hash} has more than ${MAX_WALK} directories, more than one GetTree walks`,
    );
  }
  await flush(true);
}

function parseToken(token: string): number {
  if (!token) return 0;
  const m = TOKEN.exec(token);
  if (!m)
    throw grpcError(
      status.INVALID_ARGUMENT,
      `page_token ${JSON.stringify(token.slice(0, 100))} was not issued by this server`,
    );
  return Number(m[1]);
}
