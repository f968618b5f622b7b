// The REAPI v2 transport over @grpc/grpc-js: Capabilities, FindMissingBlobs, ByteStream
// Read/Write/QueryWriteStatus for CAS bytes, ActionCache for AC entries.
//
// Uploads (rule 3 and rule 5): a Write succeeds only when the server's WriteResponse
// arrives with committed_size equal to the blob size (or the server ended early because it
// already had the blob); writing the last byte is not success. A Write broken mid-stream
// asks QueryWriteStatus for the committed offset and resumes there with the same resource
// name, instead of starting over; a server without partial uploads answers 0 (or
// UNIMPLEMENTED / NOT_FOUND), and the retry starts at 0.
import grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.ts';
import { ClientError } from './client-error.ts';
import { CODECS, COMPRESSOR_NAMES, DIGEST_FUNCTION_NAMES, encodeUpdateActionResult, fromDigestMsg, grpcError, rawCodec, readResourceName, Status, toDigestMsg, writeResourceName, type Codec } from './grpc-codec.ts';
import { Limiter } from './limiter.ts';
import { withRetry, type RetryContext } from './retry-policy.ts';
import { collect, openDownload, sourceChunks, watched } from './transfer.ts';
import type { BodySource, CacheClient, CallOptions, ClientOptions, GetOptions, ServerCapabilities } from './types.ts';

type WriteCall = grpc.ClientWritableStream<{ resourceName: string; writeOffset: number; finishWrite: boolean; data: Uint8Array }>;

const CAS = '/build.bazel.remote.execution.v2.ContentAddressableStorage';
const AC = '/build.bazel.remote.execution.v2.ActionCache';
const BS = '/google.bytestream.ByteStream';
const FIND_MISSING_BATCH = 10_000; // Bazel splits to fit 1 MiB; 10k SHA-256 digests is ~0.8 MiB

export class GrpcCacheClient implements CacheClient {
  readonly server: string;
  readonly protocol = 'grpc' as const;
  readonly #client: grpc.Client;
  readonly #opts: ClientOptions;
  readonly #instance: string;
  readonly #limiter: Limiter;
  readonly #idleMs: number;
  readonly #chunkSize: number;

  constructor(url: URL, opts: ClientOptions = {}) {
    this.server = `${url.protocol}//${url.host}`;
    this.#opts = opts;
    this.#instance = opts.instanceName ?? '';
    this.#idleMs = opts.idleTimeoutMs ?? 60_000;
    this.#chunkSize = opts.chunkSize ?? 64 * 1024;
    this.#limiter = new Limiter(opts.concurrency ?? 32);
    const creds = url.protocol === 'grpcs:' ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    this.#client = new grpc.Client(url.host, creds, {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.enable_retries': 0, // retries are decided by our registry, not by the channel
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  async capabilities(opts: CallOptions = {}): Promise<ServerCapabilities> {
    const caps = await this.#unary('capabilities', '/build.bazel.remote.execution.v2.Capabilities/GetCapabilities', CODECS.capabilitiesRequest, CODECS.capabilities, { instanceName: this.#instance }, opts);
    const cc = caps.cacheCapabilities;
    const ver = (v?: { major: number; minor: number }): string => `${v?.major ?? 0}.${v?.minor ?? 0}`;
    return {
      protocol: 'grpc',
      digestFunctions: (cc?.digestFunctions ?? []).map((n) => DIGEST_FUNCTION_NAMES[n] ?? String(n)),
      actionCacheUpdate: cc?.actionCacheUpdateCapabilities?.updateEnabled ?? false,
      maxBatchTotalSizeBytes: Number(cc?.maxBatchTotalSizeBytes ?? 0),
      compressors: (cc?.supportedCompressors ?? []).map((n) => COMPRESSOR_NAMES[n] ?? String(n)),
      apiVersion: { low: ver(caps.lowApiVersion), high: ver(caps.highApiVersion) },
    };
  }

  async findMissing(digests: readonly Digest[], opts: CallOptions = {}): Promise<Digest[]> {
    const missing: Digest[] = [];
    for (let i = 0; i < digests.length; i += FIND_MISSING_BATCH) {
      const batch = digests.slice(i, i + FIND_MISSING_BATCH).map(toDigestMsg);
      const res = await this.#unary('findMissing', `${CAS}/FindMissingBlobs`, CODECS.findMissingRequest, CODECS.findMissingResponse, { instanceName: this.#instance, blobDigests: batch }, opts);
      missing.push(...res.missingBlobDigests.map(fromDigestMsg));
    }
    return missing;
  }

  async has(digest: Digest, opts: CallOptions = {}): Promise<boolean> {
    return (await this.findMissing([digest], opts)).length === 0;
  }

  async put(digest: Digest, body: BodySource, opts: CallOptions = {}): Promise<void> {
    const resource = writeResourceName(this.#instance, randomUUID(), digest);
    await this.#limiter.run(
      () =>
        withRetry(this.#ctx('bytestream.write', opts), async (attempt) => {
          let offset = 0;
          if (attempt > 0) {
            const status = await this.#queryWriteStatus(resource, opts);
            if (status.complete || status.committedSize === digest.sizeBytes) return;
            offset = status.committedSize;
            if (offset > 0) this.#opts.onEvent?.({ type: 'resume', server: this.server, operation: 'bytestream.write', offset });
          }
          await this.#write(resource, digest, body, offset, opts);
        }),
      opts.signal,
    );
  }

  async get(digest: Digest, opts: GetOptions = {}): Promise<Readable | undefined> {
    const release = await this.#limiter.acquire(opts.signal);
    let stream: Readable | undefined;
    try {
      stream = await openDownload({
        digest,
        offset: opts.offset ?? 0,
        retry: this.#ctx('cas.get', opts),
        verify: opts.verify,
        onBytes: opts.onProgress && ((bytes) => opts.onProgress?.({ operation: 'cas.get', digest, bytes, total: digest.sizeBytes })),
        open: (at) => this.#read(digest, at, opts),
      });
    } finally {
      if (!stream) release();
    }
    stream?.once('close', release);
    return stream;
  }

  async getBytes(digest: Digest, opts: CallOptions = {}): Promise<Uint8Array | undefined> {
    const stream = await this.get(digest, opts);
    return stream && collect(stream);
  }

  async getActionResult(actionDigest: Digest, opts: CallOptions = {}): Promise<Uint8Array | undefined> {
    try {
      return await this.#unary('ac.get', `${AC}/GetActionResult`, CODECS.getActionResultRequest, rawCodec, { instanceName: this.#instance, actionDigest: toDigestMsg(actionDigest) }, opts);
    } catch (err) {
      if (err instanceof ClientError && err.grpcCode === Status.NOT_FOUND) return undefined; // a miss is a value
      throw err;
    }
  }

  async putActionResult(actionDigest: Digest, encoded: Uint8Array, opts: CallOptions = {}): Promise<void> {
    const request = encodeUpdateActionResult(this.#instance, actionDigest, encoded);
    await this.#unary('ac.put', `${AC}/UpdateActionResult`, rawCodec, rawCodec, request, opts);
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  /**
   * grpc-js answers calls made during its reconnect backoff with the LAST connect error,
   * even when the server is back (e.g. restarted). So a connect failure gets one bounded
   * reconnect attempt (at most 1.5 s): if the channel becomes ready, the failure is
   * reported as a dropped connection, which the retry policy repeats at once; if not,
   * the connect error stands and retrying stops (a dead server still fails fast).
   */
  async #recheck(e: ClientError): Promise<ClientError> {
    if (e.kind !== 'connect') return e;
    const ready = await new Promise<boolean>((resolve) => this.#client.waitForReady(Date.now() + 1500, (err) => resolve(!err)));
    return ready ? new ClientError(`${e.message} (the channel has reconnected since)`, { server: this.server, kind: 'dropped', grpcCode: e.grpcCode, cause: e }) : e;
  }

  #ctx(operation: string, opts: CallOptions): RetryContext {
    return { operation, server: this.server, retry: this.#opts.retry, onEvent: this.#opts.onEvent, signal: opts.signal };
  }

  #metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.#opts.headers ?? {})) md.set(k, v);
    return md;
  }

  /** One unary RPC under the retry policy of `operation`, cancelled by the signal or the idle timeout. */
  #unary<Req, Res>(operation: string, path: string, req: Codec<Req>, res: Codec<Res>, value: Req, opts: CallOptions): Promise<Res> {
    return this.#limiter.run(
      () =>
        withRetry(this.#ctx(operation, opts), () =>
          new Promise<Res>((resolve, reject) => {
            const deadline = Date.now() + this.#idleMs; // a unary call moves no bytes in between: idle = whole call
            const call = this.#client.makeUnaryRequest(path, req.serialize, res.deserialize, value, this.#metadata(), { deadline }, (err, out) => {
              opts.signal?.removeEventListener('abort', cancel);
              if (err) void this.#recheck(grpcError(err, this.server, path.split('/').pop() ?? path, opts.signal)).then(reject);
              else resolve(out as Res);
            });
            const cancel = (): void => call.cancel();
            opts.signal?.addEventListener('abort', cancel, { once: true });
          }),
        ),
      opts.signal,
    );
  }

  async #queryWriteStatus(resourceName: string, opts: CallOptions): Promise<{ committedSize: number; complete: boolean }> {
    try {
      return await this.#rawUnary(`${BS}/QueryWriteStatus`, CODECS.queryWriteStatusRequest, CODECS.queryWriteStatusResponse, { resourceName }, opts);
    } catch (err) {
      // No partial upload known (or not implemented): start again from 0.
      if (err instanceof ClientError && (err.grpcCode === Status.NOT_FOUND || err.grpcCode === Status.UNIMPLEMENTED)) return { committedSize: 0, complete: false };
      throw err;
    }
  }

  #rawUnary<Req, Res>(path: string, req: Codec<Req>, res: Codec<Res>, value: Req, opts: CallOptions): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#client.makeUnaryRequest(path, req.serialize, res.deserialize, value, this.#metadata(), { deadline: Date.now() + this.#idleMs }, (err, out) => {
        if (err) reject(grpcError(err, this.server, 'QueryWriteStatus', opts.signal));
        else resolve(out as Res);
      });
    });
  }

  async #write(resourceName: string, digest: Digest, body: BodySource, offset: number, opts: CallOptions): Promise<void> {
    // A failure on our side (idle watchdog, unreadable source) cancels the call; the caller
    // then hears that failure, not the CANCELLED status it causes.
    let localError: Error | undefined;
    const done = new Promise<number>((resolve, reject) => {
      const call = this.#client.makeClientStreamRequest(BS + '/Write', CODECS.writeRequest.serialize, CODECS.writeResponse.deserialize, this.#metadata(), {}, (err, res) => {
        opts.signal?.removeEventListener('abort', cancel);
        if (localError) reject(localError);
        else if (err) void this.#recheck(grpcError(err, this.server, 'Write', opts.signal)).then(reject);
        else resolve(Number(res?.committedSize ?? 0));
      });
      const cancel = (): void => call.cancel();
      opts.signal?.addEventListener('abort', cancel, { once: true });
      const fail = (e: unknown): void => {
        localError = e instanceof Error ? e : new Error(String(e));
        call.cancel();
      };
      void this.#send(call, resourceName, digest, body, offset, opts, fail).catch(fail);
    });
    const committed = await done;
    // The server may end early because the blob already exists: full size (or -1 if compressed).
    if (committed !== digest.sizeBytes) {
      throw new ClientError(`Write of ${digest.hash}/${digest.sizeBytes} to ${this.server} ended with committed_size ${committed}`, { server: this.server, kind: 'protocol' });
    }
  }

  async #send(call: WriteCall, resourceName: string, digest: Digest, body: BodySource, offset: number, opts: CallOptions, onIdle: (e: ClientError) => void): Promise<void> {
    let position = offset;
    let first = true;
    let serverDone = false;
    call.once('status', () => (serverDone = true)); // ended early (already exists) or failed
    const chunks = watched(sourceChunks(body, offset, this.#chunkSize), { idleMs: this.#idleMs, server: this.server, onIdle });
    let pending: Uint8Array | undefined;
    // Hold one chunk back so the last message carries finish_write=true with the last bytes.
    for await (const chunk of chunks) {
      if (serverDone) return;
      if (pending) {
        if (!this.#writeMsg(call, resourceName, first, position, false, pending)) await drainOrEnd(call);
        first = false;
        position += pending.byteLength;
        opts.onProgress?.({ operation: 'cas.put', digest, bytes: position, total: digest.sizeBytes });
      }
      pending = chunk;
    }
    if (serverDone) return;
    this.#writeMsg(call, resourceName, first, position, true, pending ?? new Uint8Array());
    position += pending?.byteLength ?? 0;
    opts.onProgress?.({ operation: 'cas.put', digest, bytes: position, total: digest.sizeBytes });
    // Half-close only after finish_write; success still waits for the WriteResponse (rule 3).
    call.end();
  }

  #writeMsg(call: WriteCall, resourceName: string, first: boolean, writeOffset: number, finishWrite: boolean, data: Uint8Array): boolean {
    return call.write({ resourceName: first ? resourceName : '', writeOffset, finishWrite, data });
  }

  /** Opens a ByteStream Read at `offset`: undefined on NOT_FOUND, else the data chunks. */
  async #read(digest: Digest, offset: number, opts: CallOptions): Promise<AsyncIterable<Uint8Array> | undefined> {
    const call = this.#client.makeServerStreamRequest(`${BS}/Read`, CODECS.readRequest.serialize, CODECS.readResponse.deserialize, { resourceName: readResourceName(this.#instance, digest), readOffset: offset, readLimit: 0 }, this.#metadata(), {});
    const cancel = (): void => call.cancel();
    opts.signal?.addEventListener('abort', cancel, { once: true });
    const it = (call as AsyncIterable<{ data: Buffer }>)[Symbol.asyncIterator]();
    let first: IteratorResult<{ data: Buffer }>;
    let idle: ClientError | undefined;
    const firstTimer = setTimeout(() => {
      idle = new ClientError(`${this.server} sent nothing for ${this.#idleMs} ms`, { server: this.server, kind: 'timeout' });
      call.cancel();
    }, this.#idleMs);
    try {
      first = await it.next();
    } catch (err) {
      opts.signal?.removeEventListener('abort', cancel);
      if (idle) throw idle;
      const e = grpcError(err, this.server, 'Read', opts.signal);
      if (e.grpcCode === Status.NOT_FOUND) return undefined;
      throw await this.#recheck(e);
    } finally {
      clearTimeout(firstTimer);
    }
    const server = this.server;
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
      idleMs: this.#idleMs,
      server,
      onIdle: (e) => {
        idle = e;
        call.cancel();
      },
    });
  }
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
