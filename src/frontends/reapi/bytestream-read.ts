// ByteStream.Read (docs/PROTOCOLS.md §2.6): blobs/ and compressed-blobs/zstd/ resources, from
// read_offset (uncompressed, also for zstd) for read_limit bytes (0 = to the end; must be
// 0 for compressed reads). Data goes out in messages of at most readChunkSize bytes,
// paced by the client (write() back-pressure; a client that reads nothing for
// bodyIdleTimeoutMs has its stream reset). Every error, including one after data was
// sent, reaches the client as a status (serverStream, docs/PROTOCOLS.md §2.9), and a store
// stream that ends short of the range is DATA_LOSS, never an OK with truncated data. A blob
// held in a file is read into pooled buffers (Entry.file): a stream would allocate one per
// chunk, and collecting those cost more CPU than the bytes.
import { pipeline, type Readable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { BufferPool } from '../../core/buffer-pool.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { casKey } from '../../core/keys.ts';
import { int64, wellFormed, type Int64 } from './grpc-definitions.ts';
import type { CallHandler, GrpcCall } from './grpc-transport.ts';
import { sendMessage, serverStream } from './handlers.ts';
import { namespaceOf, wrongSize, type ReapiContext } from './request-context.ts';
import { parseReadResourceName } from './resource-name.ts';
import { grpcError } from './status.ts';
import type { EntryFile } from '../../storage/store.ts';
import { createCompressor } from './zstd.ts';

/** Released read buffers of file-held blobs, kept for the next Reads (shared by every server in the process). */
const FILE_CHUNKS = new BufferPool(16 * 1024 * 1024);

export interface ReadRequest {
  resourceName: string;
  readOffset: Int64;
  readLimit: Int64;
}

export function readHandler(ctx: ReapiContext): CallHandler {
  return serverStream(
    ctx,
    'Read',
    (call, signal) => streamBlob(ctx, call, signal),
    (req: ReadRequest) => namespaceOf(ctx, parseReadResourceName(req.resourceName).instanceName),
  );
}

async function streamBlob(ctx: ReapiContext, call: GrpcCall, signal: AbortSignal): Promise<void> {
  const req = wellFormed(call.request as ReadRequest);
  const res = parseReadResourceName(req.resourceName);
  const offset = int64(req.readOffset);
  const limit = int64(req.readLimit);
  const size = res.digest.sizeBytes;
  if (offset < 0 || offset > size)
    throw new HoardError(ErrorCode.OutOfRange, `read_offset ${offset} is outside the blob of ${size} bytes`);
  if (limit < 0) throw new HoardError(ErrorCode.InvalidArgument, `read_limit ${limit} is negative (0 means no limit)`);
  const compressed = res.compression !== 'identity';
  if (compressed && limit !== 0) {
    throw new HoardError(ErrorCode.InvalidArgument, `read_limit must be 0 for a compressed-blobs read, got ${limit}`);
  }
  const key = casKey(res.digest.hash, namespaceOf(ctx, res.instanceName));
  const entry = await ctx.store.get(key, { offset, limit, signal });
  ctx.metrics?.lookup('reapi', key, entry === undefined ? 'miss' : 'hit');
  if (entry === undefined) throw grpcError(status.NOT_FOUND, `blob ${res.digest.hash}/${size} is not in the cache`);
  const expected = limit > 0 ? Math.min(limit, size - offset) : size - offset;
  if (!compressed && entry.bytes !== undefined) {
    if (entry.size !== size) {
      entry.release?.();
      throw wrongSize(res.digest.hash, entry.size, size);
    }
    await sendInMemory(ctx, call, entry.bytes, expected, res.digest.hash, signal, () => entry.release?.());
    return;
  }
  if (!compressed && entry.file !== undefined) {
    if (entry.size !== size) {
      await entry.file.close();
      throw wrongSize(res.digest.hash, entry.size, size);
    }
    await sendFile(ctx, call, entry.file, expected, res.digest.hash, signal);
    return;
  }
  let source: Readable = entry.stream;
  try {
    if (entry.size !== size) throw wrongSize(res.digest.hash, entry.size, size);
    // The store's bytes are counted before compression: a stream that ends early must not
    // pass for the whole range (the client would get an OK with truncated data).
    let read = 0;
    if (compressed)
      source = pipeline(
        counted(entry.stream, (n) => (read += n)),
        createCompressor(ctx.options.zstdLevel),
        () => undefined,
      );
    const max = ctx.options.readChunkSize;
    let sent = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      for (let at = 0; at < chunk.byteLength; at += max) {
        const data = at === 0 && chunk.byteLength <= max ? chunk : chunk.subarray(at, at + max);
        sent += data.byteLength;
        await sendMessage(call, { data }, signal, ctx.options.bodyIdleTimeoutMs);
      }
    }
    if ((compressed ? read : sent) !== expected) {
      throw new HoardError(
        ErrorCode.Corrupt,
        `the store gave ${compressed ? read : sent} of the ${expected} bytes of blob ${res.digest.hash}: the read was cut short`,
      );
    }
    ctx.metrics?.bytesSent('reapi', sent);
  } finally {
    source.destroy();
    entry.stream.destroy();
  }
}

/**
 * The range already in memory: sent in messages straight from the store's buffer, which is
 * handed back (`release`) only once the transport has written the last of them. An error
 * before that leaves it to the GC, never back in a pool while still queued for sending.
 */
async function sendInMemory(
  ctx: ReapiContext,
  call: GrpcCall,
  bytes: Buffer,
  expected: number,
  hash: string,
  signal: AbortSignal,
  release: () => void,
): Promise<void> {
  if (bytes.byteLength !== expected) {
    release();
    throw new HoardError(
      ErrorCode.Corrupt,
      `the store gave ${bytes.byteLength} of the ${expected} bytes of blob ${hash}: the read was cut short`,
    );
  }
  const max = ctx.options.readChunkSize;
  if (bytes.byteLength === 0) release();
  for (let at = 0; at < bytes.byteLength; at += max) {
    signal.throwIfAborted();
    const last = at + max >= bytes.byteLength;
    const data = at === 0 && last ? bytes : bytes.subarray(at, at + max);
    await sendMessage(call, { data }, signal, ctx.options.bodyIdleTimeoutMs, last ? release : undefined);
  }
  ctx.metrics?.bytesSent('reapi', bytes.byteLength);
}

/**
 * A range held in a file: read into pooled buffers, one message ahead of the transport,
 * each buffer handed back from the write callback of its message (never while queued).
 * Closes the file whatever happens.
 */
async function sendFile(
  ctx: ReapiContext,
  call: GrpcCall,
  file: EntryFile,
  expected: number,
  hash: string,
  signal: AbortSignal,
): Promise<void> {
  const max = ctx.options.readChunkSize;
  const read = async (at: number): Promise<Buffer> => {
    const buf = FILE_CHUNKS.acquire(Math.min(max, expected - at));
    const n = await file.read(buf, at);
    if (n === 0) {
      throw new HoardError(
        ErrorCode.Corrupt,
        `the store gave ${at} of the ${expected} bytes of blob ${hash}: the read was cut short`,
      );
    }
    return n === buf.byteLength ? buf : buf.subarray(0, n);
  };
  let next: Promise<Buffer> | undefined = expected > 0 ? read(0) : undefined;
  try {
    let sent = 0;
    while (next !== undefined) {
      const data: Buffer = await next;
      sent += data.byteLength;
      next = sent < expected ? read(sent) : undefined;
      signal.throwIfAborted();
      await sendMessage(call, { data }, signal, ctx.options.bodyIdleTimeoutMs, () => FILE_CHUNKS.release(data));
    }
    ctx.metrics?.bytesSent('reapi', sent);
  } finally {
    next?.catch(() => undefined); // settles before the file closes (FileHandle.close waits)
    await file.close();
  }
}

async function* counted(source: AsyncIterable<Buffer>, count: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    count(chunk.byteLength);
    yield chunk;
  }
}
