// ByteStream Write and Read for the REAPI transport (google.bytestream, docs/PROTOCOLS.md §2.6).
//
// Write (rule 3): an attempt succeeds only when the server's WriteResponse arrives with
// committed_size equal to the blob size (or the server ended early because it already had
// the blob); writing the last byte is not success, and the client half-closes only after
// the message carrying finish_write. Resuming (rule 5) is the caller's: it asks
// QueryWriteStatus and starts the next attempt at the committed offset.
// Read: NOT_FOUND before the first message is a miss; every wait for the next message is
// bounded by the idle timeout.
import grpc from '@grpc/grpc-js';
import type { Digest } from '../core/digest.ts';
import { ClientError } from './client-error.ts';
import { CODECS, grpcError } from './grpc-codec.ts';
import { sourceChunks, watched } from './transfer.ts';
import type { BodySource, CallOptions } from './types.ts';

const BS = '/google.bytestream.ByteStream';

type WriteCall = grpc.ClientWritableStream<{
  resourceName: string;
  writeOffset: number;
  finishWrite: boolean;
  data: Uint8Array;
}>;

export interface ByteStreamContext {
  readonly client: grpc.Client;
  readonly server: string;
  readonly idleMs: number;
  readonly chunkSize: number;
  metadata(): grpc.Metadata;
  /** Turns a stale connect error into a retryable one if the channel has reconnected since. */
  recheck(e: ClientError): Promise<ClientError>;
}

/** One Write attempt from `offset`; resolves only on the server's WriteResponse for the whole blob. */
export async function byteStreamWrite(
  ctx: ByteStreamContext,
  resourceName: string,
  digest: Digest,
  body: BodySource,
  offset: number,
  opts: CallOptions,
): Promise<void> {
  // A failure on our side (idle watchdog, unreadable source) cancels the call; the caller
  // then hears that failure, not the CANCELLED status it causes.
  let localError: Error | undefined;
  const done = new Promise<number>((resolve, reject) => {
    const call = ctx.client.makeClientStreamRequest(
      BS + '/Write',
      CODECS.writeRequest.serialize,
      CODECS.writeResponse.deserialize,
      ctx.metadata(),
      {},
      (err, res) => {
        opts.signal?.removeEventListener('abort', cancel);
        if (localError) reject(localError);
        else if (err) void ctx.recheck(grpcError(err, ctx.server, 'Write', opts.signal)).then(reject);
        else resolve(Number(res?.committedSize ?? 0));
      },
    );
    const cancel = (): void => call.cancel();
    opts.signal?.addEventListener('abort', cancel, { once: true });
    const fail = (e: unknown): void => {
      localError = e instanceof Error ? e : new Error(String(e));
      call.cancel();
    };
    void send(ctx, call, resourceName, digest, body, offset, opts, fail).catch(fail);
  });
  const committed = await done;
  // The server may end early because the blob already exists: full size (or -1 if compressed).
  if (committed !== digest.sizeBytes) {
    throw new ClientError(
      `Write of ${digest.hash}/${digest.sizeBytes} to ${ctx.server} ended with committed_size ${committed}`,
      { server: ctx.server, kind: 'protocol' },
    );
  }
}

async function send(
  ctx: ByteStreamContext,
  call: WriteCall,
  resourceName: string,
  digest: Digest,
  body: BodySource,
  offset: number,
  opts: CallOptions,
  onIdle: (e: ClientError) => void,
): Promise<void> {
  let position = offset;
  let first = true;
  let serverDone = false;
  call.once('status', () => (serverDone = true)); // ended early (already exists) or failed
  const chunks = watched(sourceChunks(body, offset, ctx.chunkSize), { idleMs: ctx.idleMs, server: ctx.server, onIdle });
  let pending: Uint8Array | undefined;
  // Hold one chunk back so the last message carries finish_write=true with the last bytes.
  for await (const chunk of chunks) {
    if (serverDone) return;
    if (pending) {
      if (!writeMsg(call, resourceName, first, position, false, pending)) await drainOrEnd(call);
      first = false;
      position += pending.byteLength;
      opts.onProgress?.({ operation: 'cas.put', digest, bytes: position, total: digest.sizeBytes });
    }
    pending = chunk;
  }
  if (serverDone) return;
  writeMsg(call, resourceName, first, position, true, pending ?? new Uint8Array());
  position += pending?.byteLength ?? 0;
  opts.onProgress?.({ operation: 'cas.put', digest, bytes: position, total: digest.sizeBytes });
  // Half-close only after finish_write; success still waits for the WriteResponse (rule 3).
  call.end();
}

function writeMsg(
  call: WriteCall,
  resourceName: string,
  first: boolean,
  writeOffset: number,
  finishWrite: boolean,
  data: Uint8Array,
): boolean {
  return call.write({ resourceName: first ? resourceName : '', writeOffset, finishWrite, data });
}

/** Opens a ByteStream Read at `offset`: undefined on NOT_FOUND, else the data chunks (idle-watched). */
export async function byteStreamRead(
  ctx: ByteStreamContext,
  resourceName: string,
  offset: number,
  opts: CallOptions,
): Promise<AsyncIterable<Uint8Array> | undefined> {
  const call = ctx.client.makeServerStreamRequest(
    `${BS}/Read`,
    CODECS.readRequest.serialize,
    CODECS.readResponse.deserialize,
    { resourceName, readOffset: offset, readLimit: 0 },
    ctx.metadata(),
    {},
  );
  const cancel = (): void => call.cancel();
  opts.signal?.addEventListener('abort', cancel, { once: true });
  const it = (call as AsyncIterable<{ data: Buffer }>)[Symbol.asyncIterator]();
  let first: IteratorResult<{ data: Buffer }>;
  let idle: ClientError | undefined;
  const firstTimer = setTimeout(() => {
    idle = new ClientError(`${ctx.server} sent nothing for ${ctx.idleMs} ms`, { server: ctx.server, kind: 'timeout' });
    call.cancel();
  }, ctx.idleMs);
  try {
    first = await it.next();
  } catch (err) {
    opts.signal?.removeEventListener('abort', cancel);
    if (idle) throw idle;
    const e = grpcError(err, ctx.server, 'Read', opts.signal);
    if (e.grpcCode === grpc.status.NOT_FOUND) return undefined;
    throw await ctx.recheck(e);
  } finally {
    clearTimeout(firstTimer);
  }
  const server = ctx.server;
  async function* rest(): AsyncGenerator<Uint8Array> {
    try {
      if (first.done) return;
      yield first.value.data;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value.data;
    } catch (err) {
      throw idle ?? grpcError(err, server, 'Read', opts.signal);
    } finally {
      opts.signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
  }
  return watched(rest(), {
    idleMs: ctx.idleMs,
    server,
    onIdle: (e) => {
      idle = e;
      call.cancel();
    },
  });
}

/** Waits until the call can take more, or has ended (the server may finish early). */
function drainOrEnd(call: WriteCall): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('status', done);
      resolve();
    };
    call.once('drain', done);
    call.once('status', done);
  });
}
