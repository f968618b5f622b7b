// ByteStream.Write for REAPI uploads (docs/PROTOCOLS.md §2.6), the path rule 1's unflushed-upload story is about (docs/CORRECTNESS.md).
// Rule 3: the WriteResponse is sent only after store.put resolved, i.e. the blob was
// received whole, verified and durably published. A stream that ends without
// finish_write, fails an offset check, or is cancelled makes the put fail, so nothing is
// published; an uncompressed upload's received bytes stay in the partial-upload spool so
// the client can resume at QueryWriteStatus's committed_size. Messages are pulled one at
// a time as the store consumes them, so a slow disk back-pressures the client (no blob
// is ever buffered whole here).
import { ErrorCode, HoardError, isHoardError } from '../../core/errors.ts';
import { casKey } from '../../core/keys.ts';
import type { Body } from '../../storage/store.ts';
import { wellFormed } from './grpc-definitions.ts';
import type { CallHandler } from './grpc-transport.ts';
import { admit, runCall } from './handlers.ts';
import type { ReapiCall } from './reapi-call.ts';
import { checkBlobSize, namespaceOf, wrongSize, type ReapiContext } from './request-context.ts';
import { parseWriteResourceName, type BlobResource } from './resource-name.ts';
import { MessageReader } from './message-reader.ts';
import type { WriteRequest } from './write-request-codec.ts';
import { decompressStream } from './zstd.ts';

export interface WriteResponse {
  committedSize: number;
}

/** The partial-upload id of a resource: namespace, upload id and digest. */
export function uploadId(ns: string, r: BlobResource): string {
  return `${ns}\u0000${r.uuid ?? ''}\u0000${r.digest.hash}/${r.digest.sizeBytes}`;
}

export function writeHandler(ctx: ReapiContext): CallHandler {
  return (call) =>
    runCall(
      ctx,
      'Write',
      call,
      (signal, description) => handleWrite(ctx, call as AsyncIterable<WriteRequest>, signal, description),
      true,
    );
}

async function handleWrite(
  ctx: ReapiContext,
  call: AsyncIterable<WriteRequest>,
  callSignal: AbortSignal,
  description: ReapiCall,
): Promise<WriteResponse> {
  const reader = new MessageReader(call, ctx.options.bodyIdleTimeoutMs);
  const first = wellFormed(await reader.next(callSignal));
  if (first === undefined)
    throw new HoardError(ErrorCode.InvalidArgument, 'the Write stream ended before its first message');
  const res = parseWriteResourceName(first.resourceName);
  checkBlobSize(ctx, res.digest);
  const ns = namespaceOf(ctx, res.instanceName);
  // The first message named the namespace: the chain admits the call before the store sees it.
  await admit(ctx, description, ns);
  const key = casKey(res.digest.hash, ns);
  const size = res.digest.sizeBytes;
  const compressed = res.compression !== 'identity';
  // REAPI: a blob that is already present ends the upload at once, without error.
  const existing: WriteResponse = { committedSize: compressed ? -1 : size };
  const id = uploadId(ns, res);
  const startOffset = first.writeOffset;
  if (startOffset < 0) throw new HoardError(ErrorCode.OutOfRange, `write_offset ${startOffset} is negative`);

  const present = await ctx.store.stat(key);
  if (present !== undefined) {
    // A hash is never shared by two sizes: a different size means the digest is wrong.
    if (present !== size) throw wrongSize(res.digest.hash, present, size);
    await ctx.partials.discard(id);
    return existing;
  }
  const spool =
    !compressed && size >= ctx.options.partialUploadMinBytes ? await ctx.partials.acquire(id, callSignal) : undefined;
  const committed = spool?.size ?? 0;
  if (spool && startOffset < committed) spool.truncate(startOffset);
  else if (startOffset !== committed) {
    await spool?.settle(true);
    const why = compressed
      ? 'compressed uploads are not resumable and start at write_offset 0'
      : `the committed size is ${committed} (see QueryWriteStatus)`;
    throw new HoardError(ErrorCode.InvalidArgument, `first write_offset ${startOffset} does not match: ${why}`);
  }

  // Another writer may publish the same blob while this one streams: stop at once then.
  const stop = new AbortController();
  const signal = AbortSignal.any([callSignal, stop.signal]);
  let existed = false;
  const unwatch = ctx.published.watch(key, () => {
    existed = true;
    stop.abort(new HoardError(ErrorCode.Aborted, 'the blob was published by another upload'));
  });
  let finished = false;
  let received = 0; // bytes on the wire in this call (compressed bytes for zstd)

  const firstMsg: WriteRequest = first;
  async function* wire(): AsyncGenerator<Uint8Array> {
    let msg: WriteRequest = firstMsg;
    for (;;) {
      if (msg.resourceName && msg.resourceName !== firstMsg.resourceName) {
        throw new HoardError(
          ErrorCode.InvalidArgument,
          `resource_name changed mid-stream to ${JSON.stringify(msg.resourceName.slice(0, 300))}`,
        );
      }
      if (msg.writeOffset !== startOffset + received) {
        throw new HoardError(
          ErrorCode.InvalidArgument,
          `write_offset ${msg.writeOffset} does not follow the ${startOffset + received} bytes written so far`,
        );
      }
      // The message's data as the views of the HTTP/2 chunks it arrived in (never joined).
      for (const part of msg.data) received += part.byteLength;
      if (!compressed && startOffset + received > size) {
        throw new HoardError(ErrorCode.SizeMismatch, `received more than the ${size} bytes the resource name declares`);
      }
      await spool?.append(msg.data);
      yield* msg.data;
      if (msg.finishWrite) {
        finished = true;
        return;
      }
      const next = wellFormed(await reader.next(signal));
      if (next === undefined) {
        throw new HoardError(
          ErrorCode.Aborted,
          `the Write stream ended before finish_write, after ${startOffset + received} bytes; resume from QueryWriteStatus's committed_size`,
        );
      }
      msg = next;
    }
  }

  let body: Body;
  if (compressed) body = decompressStream(wire(), size, signal);
  else {
    const prefix = spool?.prefix(signal);
    body = prefix ? concat(prefix, wire()) : wire();
  }
  try {
    // When another Write of this blob publishes first, its notice aborts our body, and a
    // store that single-flights the key releases this put as soon as that one finishes.
    await ctx.store.put(key, body, { size, signal });
    unwatch(); // before announcing, so this upload does not hear its own notice
    ctx.published.published(key);
    await spool?.settle(false);
    ctx.metrics?.bytesReceived('reapi', received);
    return compressed ? { committedSize: received } : { committedSize: size };
  } catch (err) {
    if (existed) {
      await spool?.settle(false);
      return existing;
    }
    // Keep the spooled prefix only when the stream was cut; bad data is dropped.
    await spool?.settle(!finished && isCut(err));
    throw err;
  } finally {
    unwatch();
  }
}

function isCut(err: unknown): boolean {
  return isHoardError(err, ErrorCode.Aborted) || (err instanceof Error && err.name === 'AbortError');
}

async function* concat(prefix: AsyncIterable<Uint8Array>, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* prefix;
  yield* rest;
}
