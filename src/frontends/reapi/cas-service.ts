// ContentAddressableStorage: FindMissingBlobs, BatchUpdateBlobs, BatchReadBlobs (GetTree
// lives in get-tree.ts). Batch items succeed or fail independently; only a request that
// breaks the whole call (bad digest function, over max_batch_total_size_bytes) fails it.
import { status } from '@grpc/grpc-js';
import type { ServiceImplementation } from './grpc-transport.ts';
import type { Digest } from '../../core/digest.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { casKey, type Key } from '../../core/keys.ts';
import { getTreeHandler } from './get-tree.ts';
import type { FindMissingRequestPlain, PlainDigest } from './fast-codecs.ts';
import { bytesOf, int64 } from './grpc-definitions.ts';
import { unary } from './handlers.ts';
import {
  checkBlobSize,
  checkDigestFunction,
  compressorName,
  CompressorValue,
  digestFrom,
  namespaceOf,
  wrongSize,
  type DigestMsg,
  type ReapiContext,
} from './request-context.ts';
import { grpcError, OK_STATUS, toRpcStatus, type RpcStatus } from './status.ts';
import { compressBytes, decompressBounded } from './zstd.ts';

interface BatchUpdateRequest {
  instanceName: string;
  requests: { digest?: DigestMsg; data?: Uint8Array; compressor: number }[];
  digestFunction: number;
}
interface BatchReadRequest {
  instanceName: string;
  digests: DigestMsg[];
  acceptableCompressors: number[];
  digestFunction: number;
}

/** Below this, zstd framing overhead outweighs any gain: send identity. */
const MIN_COMPRESS_BYTES = 256;

export function casService(ctx: ReapiContext): ServiceImplementation {
  const { store } = ctx;

  // The request comes from the fast decoder (fast-codecs.ts), never from protobufjs.
  async function findMissing(req: FindMissingRequestPlain): Promise<{ missingBlobDigests: PlainDigest[] }> {
    checkDigestFunction(req.digestFunction);
    const ns = namespaceOf(ctx, req.instanceName);
    const msgs = req.blobDigests;
    const keys = new Array(msgs.length);
    const sizes = new Array<number>(msgs.length);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const size = m.sizeBytes;
      // Fast path for the common well-formed digest (the decoder checked and decoded the
      // hash's bytes, so no hash string is made); digestFrom throws the precise error for
      // anything else.
      if (m.bytes !== undefined && size > 0 && Number.isSafeInteger(size))
        keys[i] = ns === '' && m.keyspace === 'cas' ? (m as PlainDigest & Key) : casKey(m.hash, ns);
      else {
        digestFrom(m, `blob_digests[${i}]`);
        keys[i] = casKey(m.hash, ns);
      }
      sizes[i] = size;
    }
    // `has` refreshes present blobs in the LRU: a FindMissingBlobs extends their lifetime.
    // The store answers true for the empty blob, so it is never reported missing. The size
    // is part of the digest: a present hash with another size is missing.
    const present = await store.has(keys, sizes);
    const missingBlobDigests: PlainDigest[] = [];
    for (let i = 0; i < msgs.length; i++) if (!present[i]) missingBlobDigests.push(msgs[i]!);
    return { missingBlobDigests };
  }

  async function batchUpdate(
    req: BatchUpdateRequest,
    signal: AbortSignal,
  ): Promise<{ responses: { digest?: DigestMsg; status: RpcStatus }[] }> {
    checkDigestFunction(req.digestFunction);
    checkBatchTotal(
      ctx,
      req.requests.map((r) => int64(r.digest?.sizeBytes)),
    );
    const ns = namespaceOf(ctx, req.instanceName);
    const responses = await Promise.all(
      req.requests.map(async (r, i) => {
        try {
          const d = digestFrom(r.digest, `requests[${i}].digest`);
          checkBlobSize(ctx, d);
          const data = entryData(r.compressor, bytesOf(r.data), d);
          const key = casKey(d.hash, ns);
          // The store verifies size and hash even when the blob is already present.
          await store.put(key, data, { size: d.sizeBytes, signal });
          ctx.published.published(key);
          return { digest: r.digest, status: OK_STATUS };
        } catch (err) {
          return { digest: r.digest, status: toRpcStatus(err) };
        }
      }),
    );
    return { responses };
  }

  async function batchRead(req: BatchReadRequest, signal: AbortSignal): Promise<{ responses: unknown[] }> {
    checkDigestFunction(req.digestFunction);
    checkBatchTotal(
      ctx,
      req.digests.map((m) => int64(m?.sizeBytes)),
    );
    const ns = namespaceOf(ctx, req.instanceName);
    const zstdOk = req.acceptableCompressors.includes(CompressorValue.ZSTD);
    const responses = await Promise.all(
      req.digests.map(async (m, i) => {
        try {
          const d = digestFrom(m, `digests[${i}]`);
          const data = await store.getBytes(casKey(d.hash, ns), { signal });
          if (data === undefined)
            throw grpcError(status.NOT_FOUND, `blob ${d.hash}/${d.sizeBytes} is not in the cache`);
          if (data.byteLength !== d.sizeBytes) throw wrongSize(d.hash, data.byteLength, d.sizeBytes);
          if (zstdOk && data.byteLength >= MIN_COMPRESS_BYTES) {
            const z = compressBytes(data, ctx.options.zstdLevel);
            if (z.byteLength < data.byteLength)
              return { digest: m, data: z, status: OK_STATUS, compressor: CompressorValue.ZSTD };
          }
          return { digest: m, data, status: OK_STATUS, compressor: CompressorValue.IDENTITY };
        } catch (err) {
          return { digest: m, status: toRpcStatus(err) };
        }
      }),
    );
    return { responses };
  }

  return {
    FindMissingBlobs: unary(ctx, 'FindMissingBlobs', findMissing),
    BatchUpdateBlobs: unary(ctx, 'BatchUpdateBlobs', batchUpdate),
    BatchReadBlobs: unary(ctx, 'BatchReadBlobs', batchRead),
    GetTree: getTreeHandler(ctx),
  };
}

function entryData(compressor: number, data: Buffer, d: Digest): Buffer {
  if (compressor === CompressorValue.IDENTITY) return data;
  if (compressor === CompressorValue.ZSTD) return decompressBounded(data, d.sizeBytes);
  throw new HoardError(
    ErrorCode.Unsupported,
    `compressor ${compressorName(compressor)} is not supported for batch uploads: use IDENTITY or ZSTD`,
  );
}

/** Whole-request INVALID_ARGUMENT when the declared blob bytes exceed the advertised bound. */
function checkBatchTotal(ctx: ReapiContext, sizes: number[]): void {
  let total = 0;
  for (const s of sizes) total += Math.max(0, s);
  const max = ctx.options.maxBatchTotalSize;
  if (total > max) {
    throw grpcError(
      status.INVALID_ARGUMENT,
      `batch of ${total} blob bytes exceeds max_batch_total_size_bytes ${max}: split it or use ByteStream`,
    );
  }
}
