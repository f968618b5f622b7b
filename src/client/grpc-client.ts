// The REAPI v2 transport over @grpc/grpc-js: Capabilities, FindMissingBlobs, ActionCache,
// and CAS bytes over ByteStream (bytestream.ts). Every call runs under the retry policy of
// its operation (retry-policy.ts) and the client's concurrency limit.
//
// Uploads resume (rule 5): a Write broken mid-stream asks QueryWriteStatus for the committed
// offset and the next attempt continues there with the same resource name, instead of
// starting over; a server without partial uploads answers 0 (or UNIMPLEMENTED / NOT_FOUND),
// and the retry starts at 0.
import grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.ts';
import { ErrorCode } from '../core/errors.ts';
import { authorizationOf, clientTls, userinfoOf, withAuthorization } from './client-credentials.ts';
import { ClientError } from './client-error.ts';
import {
  CODECS,
  COMPRESSOR_NAMES,
  DIGEST_FUNCTION_NAMES,
  encodeUpdateActionResult,
  fromDigestMsg,
  grpcError,
  rawCodec,
  readResourceName,
  toDigestMsg,
  writeResourceName,
  type Codec,
} from './grpc-codec.ts';
import { Limiter } from './limiter.ts';
import { withRetry, type RetryContext } from './retry-policy.ts';
import { collect, openDownload } from './transfer.ts';
import { byteStreamRead, byteStreamWrite, type ByteStreamContext } from './bytestream.ts';
import type {
  BodySource,
  CacheClient,
  CallOptions,
  ClientEvent,
  ClientOptions,
  GetOptions,
  ServerCapabilities,
} from './types.ts';

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
  readonly #bs: ByteStreamContext;
  /** Sent as `authorization` metadata on every call (client-credentials.ts decides which). */
  readonly #authorization: string | undefined;

  constructor(url: URL, opts: ClientOptions = {}) {
    this.server = `${url.protocol}//${url.host}`;
    this.#opts = opts;
    this.#instance = opts.instanceName ?? '';
    this.#idleMs = opts.idleTimeoutMs ?? 60_000;
    this.#chunkSize = opts.chunkSize ?? 64 * 1024;
    this.#limiter = new Limiter(opts.concurrency ?? 32);
    const inAuthority = opts.grpcAuthorityCredentials === true && opts.token === undefined;
    const basic = inAuthority ? (userinfoOf(url) ?? opts.basic) : undefined;
    this.#authorization = basic === undefined ? authorizationOf(url, opts) : undefined;
    const tls = clientTls(url, opts);
    const creds =
      url.protocol === 'grpcs:'
        ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
        : grpc.credentials.createInsecure();
    // The target (and so the :authority) is host:port only: user info travels as metadata,
    // unless asked to go where Bazel puts it (bazel-remote reads it only there).
    this.#client = new grpc.Client(url.host, creds, {
      ...(basic === undefined
        ? {}
        : {
            'grpc.default_authority': `${encodeURIComponent(basic.user)}:${encodeURIComponent(basic.password)}@${url.host}`,
          }),
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.enable_retries': 0, // retries are decided by our registry, not by the channel
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    this.#bs = {
      client: this.#client,
      server: this.server,
      idleMs: this.#idleMs,
      chunkSize: this.#chunkSize,
      metadata: () => this.#metadata(),
      recheck: (e) => this.#recheck(e),
    };
    if (opts.onEvent) this.#reportConnections(opts.onEvent);
  }

  async capabilities(opts: CallOptions = {}): Promise<ServerCapabilities> {
    const caps = await this.#unary(
      'capabilities',
      '/build.bazel.remote.execution.v2.Capabilities/GetCapabilities',
      CODECS.capabilitiesRequest,
      CODECS.capabilities,
      { instanceName: this.#instance },
      opts,
    );
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
      const res = await this.#unary(
        'findMissing',
        `${CAS}/FindMissingBlobs`,
        CODECS.findMissingRequest,
        CODECS.findMissingResponse,
        { instanceName: this.#instance, blobDigests: batch },
        opts,
      );
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
            if (offset > 0)
              this.#opts.onEvent?.({ type: 'resume', server: this.server, operation: 'bytestream.write', offset });
          }
          await byteStreamWrite(this.#bs, resource, digest, body, offset, opts);
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
        onBytes:
          opts.onProgress &&
          ((bytes) => opts.onProgress?.({ operation: 'cas.get', digest, bytes, total: digest.sizeBytes })),
        open: (at) => byteStreamRead(this.#bs, readResourceName(this.#instance, digest), at, opts),
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
      return await this.#unary(
        'ac.get',
        `${AC}/GetActionResult`,
        CODECS.getActionResultRequest,
        rawCodec,
        { instanceName: this.#instance, actionDigest: toDigestMsg(actionDigest) },
        opts,
      );
    } catch (err) {
      if (err instanceof ClientError && err.grpcCode === grpc.status.NOT_FOUND) return undefined; // a miss is a value
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

  /** The server without credentials. */
  toString(): string {
    return this.server;
  }

  /**
   * grpc-js answers calls made during its reconnect backoff with the LAST connect error,
   * even when the server is back (e.g. restarted). So a connect failure gets one bounded
   * reconnect attempt (at most 1.5 s): if the channel becomes ready, the failure is
   * reported as a dropped connection, which the retry policy repeats at once; if not,
   * the connect error stands and retrying stops (a dead server still fails fast).
   */
  async #recheck(e: ClientError): Promise<ClientError> {
    // A refused TLS session (mTLS) is an answer, not a stale error: no reconnect can change it.
    if (e.kind !== 'connect' || e.code === ErrorCode.Unauthenticated) return e;
    const ready = await new Promise<boolean>((resolve) =>
      this.#client.waitForReady(Date.now() + 1500, (err) => resolve(!err)),
    );
    return ready
      ? new ClientError(`${e.message} (the channel has reconnected since)`, {
          server: this.server,
          kind: 'dropped',
          grpcCode: e.grpcCode,
          cause: e,
        })
      : e;
  }

  /** Connects and disconnects of the channel as events, like the HTTP pool's (a restarted server shows as one reconnect). */
  #reportConnections(onEvent: (e: ClientEvent) => void): void {
    const channel = this.#client.getChannel();
    const { READY, SHUTDOWN } = grpc.connectivityState;
    let connected = false;
    const watch = (state: grpc.connectivityState): void => {
      channel.watchConnectivityState(state, Infinity, () => {
        const now = channel.getConnectivityState(false);
        if (now === SHUTDOWN) return; // closed: stop watching
        if (now === READY) {
          onEvent({ type: 'connect', server: this.server, reconnect: connected });
          connected = true;
        } else if (state === READY) {
          onEvent({ type: 'disconnect', server: this.server, reason: `channel ${grpc.connectivityState[now]}` });
        }
        watch(now);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  #ctx(operation: string, opts: CallOptions): RetryContext {
    return {
      operation,
      server: this.server,
      retry: this.#opts.retry,
      onEvent: this.#opts.onEvent,
      signal: opts.signal,
    };
  }

  #metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(withAuthorization(this.#opts.headers, this.#authorization))) md.set(k, v);
    return md;
  }

  /** One unary RPC under the retry policy of `operation` and the concurrency limit. */
  #unary<Req, Res>(
    operation: string,
    path: string,
    req: Codec<Req>,
    res: Codec<Res>,
    value: Req,
    opts: CallOptions,
  ): Promise<Res> {
    return this.#limiter.run(
      () => withRetry(this.#ctx(operation, opts), () => this.#call(path, req, res, value, opts)),
      opts.signal,
    );
  }

  /** One attempt of a unary RPC, cancelled by the signal or the idle timeout; failures are rechecked ClientErrors. */
  #call<Req, Res>(path: string, req: Codec<Req>, res: Codec<Res>, value: Req, opts: CallOptions): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const deadline = Date.now() + this.#idleMs; // a unary call moves no bytes in between: idle = whole call
      const call = this.#client.makeUnaryRequest(
        path,
        req.serialize,
        res.deserialize,
        value,
        this.#metadata(),
        { deadline },
        (err, out) => {
          opts.signal?.removeEventListener('abort', cancel);
          if (err)
            void this.#recheck(grpcError(err, this.server, path.split('/').pop() ?? path, opts.signal)).then(reject);
          else resolve(out as Res);
        },
      );
      const cancel = (): void => call.cancel();
      if (opts.signal?.aborted) cancel();
      else opts.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /**
   * Part of a bytestream.write attempt (it holds the put's concurrency slot and runs under
   * its retry policy: a failed query fails the attempt, and the next attempt asks again).
   */
  async #queryWriteStatus(
    resourceName: string,
    opts: CallOptions,
  ): Promise<{ committedSize: number; complete: boolean }> {
    try {
      return await this.#call(
        `${BS}/QueryWriteStatus`,
        CODECS.queryWriteStatusRequest,
        CODECS.queryWriteStatusResponse,
        { resourceName },
        opts,
      );
    } catch (err) {
      // No partial upload known (or not implemented): start again from 0.
      if (
        err instanceof ClientError &&
        (err.grpcCode === grpc.status.NOT_FOUND || err.grpcCode === grpc.status.UNIMPLEMENTED)
      )
        return { committedSize: 0, complete: false };
      throw err;
    }
  }
}
