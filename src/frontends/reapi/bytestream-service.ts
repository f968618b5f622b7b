// google.bytestream.ByteStream as REAPI uses it: Read and Write live in their own files;
// QueryWriteStatus is here. It never answers NOT_FOUND for an upload it has not seen
// (Bazel does not retry NOT_FOUND, docs/PROTOCOLS.md §2.6): a fresh upload is {0, false}.
import type { ServiceImplementation } from './grpc-transport.ts';
import { casKey } from '../../core/keys.ts';
import { readHandler } from './bytestream-read.ts';
import { uploadId, writeHandler } from './bytestream-write.ts';
import { unary } from './handlers.ts';
import { namespaceOf, wrongSize, type ReapiContext } from './request-context.ts';
import { parseWriteResourceName } from './resource-name.ts';

interface QueryWriteStatusRequest {
  resourceName: string;
}
interface QueryWriteStatusResponse {
  committedSize: number;
  complete: boolean;
}

export function byteStreamService(ctx: ReapiContext): ServiceImplementation {
  async function queryWriteStatus(req: QueryWriteStatusRequest): Promise<QueryWriteStatusResponse> {
    const res = parseWriteResourceName(req.resourceName);
    const ns = namespaceOf(ctx, res.instanceName);
    const compressed = res.compression !== 'identity';
    const present = await ctx.store.stat(casKey(res.digest.hash, ns));
    if (present !== undefined) {
      if (present !== res.digest.sizeBytes) throw wrongSize(res.digest.hash, present, res.digest.sizeBytes);
      // Same convention as an early-ended Write: -1 when the size in compressed bytes is unknown.
      return { committedSize: compressed ? -1 : res.digest.sizeBytes, complete: true };
    }
    // Compressed uploads are not spooled: they restart at 0.
    const committed = compressed ? 0 : ((await ctx.partials.committed(uploadId(ns, res))) ?? 0);
    return { committedSize: committed, complete: false };
  }

  return {
    Read: readHandler(ctx),
    Write: writeHandler(ctx),
    QueryWriteStatus: unary(ctx, 'QueryWriteStatus', queryWriteStatus, (req) =>
      namespaceOf(ctx, parseWriteResourceName(req.resourceName).instanceName),
    ),
  };
}
