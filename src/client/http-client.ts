// The Bazel HTTP cache transport: GET/PUT/HEAD on <prefix>/cas/<hash> and <prefix>/ac/<hash>
// (docs/PROTOCOLS.md §1), over an undici Pool.
//
// Rule 4 (docs/CORRECTNESS.md#origin-released-then-closed: Bazel released a pooled channel,
// another request took it, then it was closed): connections are pooled by undici, which
// decides to close BEFORE a connection can be reused: a response carrying
// `Connection: close`, an error mid-response, or a body not read to its end marks the
// socket reset, and the client destroys it instead of handing it to the next request. test/fault/pool-close.test.ts proves this against a server that
// closes after every response, and shows a pool that releases first fails the same test.
// Pipelining is off: one request per connection at a time, like Bazel.
import { Pool } from 'undici';
import { Readable } from 'node:stream';
import type { Digest } from '../core/digest.ts';
import { ErrorCode, type ErrorCode as Code } from '../core/errors.ts';
import { authorizationOf, clientTls, withAuthorization } from './client-credentials.ts';
import { ClientError, networkError, tlsAlertIn, tlsRefusal } from './client-error.ts';
import { Limiter } from './limiter.ts';
import { TlsAlerts } from './tls-alerts.ts';
import { withRetry, type RetryContext } from './retry-policy.ts';
import { collect, openDownload, sourceChunks, watched } from './transfer.ts';
import type { BodySource, CacheClient, CallOptions, ClientOptions, GetOptions, ServerCapabilities } from './types.ts';

const PUT_OK = new Set([200, 201, 202, 204]); // Bazel accepts exactly these (docs/PROTOCOLS.md §1.2)

interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: AsyncIterable<Uint8Array> & { dump?: () => Promise<void> };
}

export class HttpCacheClient implements CacheClient {
  readonly server: string;
  readonly protocol = 'http' as const;
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #headers: Record<string, string>;
  readonly #opts: ClientOptions;
  readonly #limiter: Limiter;
  readonly #idleMs: number;
  readonly #tlsAlerts = new TlsAlerts();
  #connected = false;

  constructor(url: URL, opts: ClientOptions = {}) {
    this.#opts = opts;
    this.server = `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
    this.#prefix = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
    this.#headers = withAuthorization(opts.headers, authorizationOf(url, opts));
    const tls = clientTls(url, opts);
    this.#idleMs = opts.idleTimeoutMs ?? 60_000;
    const concurrency = opts.concurrency ?? 32;
    this.#limiter = new Limiter(concurrency);
    this.#pool = new Pool(url.origin, {
      connections: concurrency,
      pipelining: 1,
      headersTimeout: this.#idleMs,
      bodyTimeout: this.#idleMs,
      connect: this.#tlsAlerts.connector({
        timeout: opts.connectTimeoutMs ?? 10_000,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
      }),
    });
    this.#pool.on('connect', () => {
      opts.onEvent?.({ type: 'connect', server: this.server, reconnect: this.#connected });
      this.#connected = true;
    });
    this.#pool.on('disconnect', (_origin, _targets, err) => {
      opts.onEvent?.({ type: 'disconnect', server: this.server, reason: err?.message ?? 'closed' });
    });
  }

  async capabilities(): Promise<ServerCapabilities> {
    // The HTTP protocol has no capabilities call; this is what it always supports.
    return {
      protocol: 'http',
      digestFunctions: ['sha256'],
      actionCacheUpdate: true,
      maxBatchTotalSizeBytes: 0,
      compressors: [],
    };
  }

  async has(digest: Digest, opts: CallOptions = {}): Promise<boolean> {
    return withRetry(this.#ctx('has', opts), async () => {
      const res = await this.#send('HEAD', `cas/${digest.hash}`, opts.signal);
      await drain(res);
      if (res.status === 404 || res.status === 204) return false;
      if (res.status >= 200 && res.status < 300) return true;
      throw statusError('HEAD', this.#path(`cas/${digest.hash}`), this.server, res, '');
    });
  }

  async findMissing(digests: readonly Digest[], opts: CallOptions = {}): Promise<Digest[]> {
    // HTTP has no batch existence call: one HEAD per digest, bounded by the concurrency limit.
    const present = await Promise.all(digests.map((d) => this.#limiter.run(() => this.has(d, opts), opts.signal)));
    return digests.filter((_, i) => !present[i]);
  }

  async put(digest: Digest, body: BodySource, opts: CallOptions = {}): Promise<void> {
    await this.#upload('cas.put', `cas/${digest.hash}`, digest, body, opts);
  }

  async get(digest: Digest, opts: GetOptions = {}): Promise<Readable | undefined> {
    const offset = opts.offset ?? 0;
    return openDownload({
      digest,
      offset,
      retry: this.#ctx('cas.get', opts),
      verify: opts.verify,
      onBytes:
        opts.onProgress &&
        ((bytes) => opts.onProgress?.({ operation: 'cas.get', digest, bytes, total: digest.sizeBytes })),
      open: async (at) => {
        const headers: Record<string, string> = at > 0 ? { range: `bytes=${at}-` } : {};
        const res = await this.#send('GET', `cas/${digest.hash}`, opts.signal, headers);
        if (res.status === 404 || res.status === 204) {
          await drain(res);
          return undefined;
        }
        if (res.status === 200) return this.#mapped(at > 0 ? skip(res.body, at) : res.body, opts.signal);
        if (res.status === 206 && at > 0) return this.#mapped(res.body, opts.signal);
        const text = await readText(res);
        throw statusError('GET', this.#path(`cas/${digest.hash}`), this.server, res, text);
      },
    });
  }

  async getBytes(digest: Digest, opts: CallOptions = {}): Promise<Uint8Array | undefined> {
    const stream = await this.get(digest, opts);
    return stream && collect(stream);
  }

  async getActionResult(actionDigest: Digest, opts: CallOptions = {}): Promise<Uint8Array | undefined> {
    return withRetry(this.#ctx('ac.get', opts), async () => {
      const res = await this.#send('GET', `ac/${actionDigest.hash}`, opts.signal);
      if (res.status === 404 || res.status === 204) {
        await drain(res);
        return undefined;
      }
      if (res.status !== 200)
        throw statusError('GET', this.#path(`ac/${actionDigest.hash}`), this.server, res, await readText(res));
      return collect(this.#mapped(res.body, opts.signal), 64 * 1024 * 1024);
    });
  }

  async putActionResult(actionDigest: Digest, encoded: Uint8Array, opts: CallOptions = {}): Promise<void> {
    await this.#upload(
      'ac.put',
      `ac/${actionDigest.hash}`,
      { hash: actionDigest.hash, sizeBytes: encoded.byteLength },
      encoded,
      opts,
    );
  }

  /** DELETE a CAS entry. Registered unsafe: it is never repeated automatically. */
  async delete(digest: Digest, opts: CallOptions = {}): Promise<boolean> {
    return withRetry(this.#ctx('cas.delete', opts), async () => {
      const res = await this.#send('DELETE', `cas/${digest.hash}`, opts.signal);
      await drain(res);
      if (res.status === 404) return false;
      if (res.status >= 200 && res.status < 300) return true;
      throw statusError('DELETE', this.#path(`cas/${digest.hash}`), this.server, res, '');
    });
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** The server without credentials. */
  toString(): string {
    return this.server;
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

  #path(rel: string): string {
    return this.#prefix + rel;
  }

  async #upload(operation: string, rel: string, digest: Digest, body: BodySource, opts: CallOptions): Promise<void> {
    await withRetry(this.#ctx(operation, opts), async () => {
      const ac = new AbortController();
      let sent = 0;
      const chunks = watched(sourceChunks(body, 0), {
        idleMs: this.#idleMs,
        server: this.server,
        onIdle: (err) => ac.abort(err),
        onBytes: (n) => {
          sent += n;
          opts.onProgress?.({ operation, digest, bytes: sent, total: digest.sizeBytes });
        },
      });
      const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
      const res = await this.#send(
        'PUT',
        rel,
        signal,
        { 'content-length': String(digest.sizeBytes) },
        Readable.from(chunks),
        ac.signal,
      );
      const text = await readText(res);
      // Rule 3: success is the server's acknowledgement, not "we wrote the last byte".
      if (!PUT_OK.has(res.status)) throw statusError('PUT', this.#path(rel), this.server, res, text);
    });
  }

  async #send(
    method: string,
    rel: string,
    signal: AbortSignal | undefined,
    headers: Record<string, string> = {},
    body?: Readable,
    internal?: AbortSignal,
  ): Promise<Response> {
    try {
      // undici closes after every HEAD by default (servers that wrongly send a body); we keep
      // the connection only if the server explicitly said keep-alive, which undici checks.
      const reset = method === 'HEAD' ? false : undefined;
      const res = await this.#pool.request({
        method,
        path: this.#path(rel),
        headers: { ...this.#headers, ...headers },
        body,
        signal,
        reset,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      if (internal?.aborted) throw internal.reason;
      // An mTLS refusal: during the handshake (the error says it) or just after (the socket did).
      const alert = (err instanceof Error ? tlsAlertIn(err.message) : undefined) ?? this.#tlsAlerts.take(err);
      if (alert !== undefined) throw tlsRefusal(this.server, alert, err);
      throw networkError(err, this.server, signal);
    }
  }

  /** Maps body-stream failures (reset mid-body, idle timeout) to ClientErrors the retry loop understands. */
  async *#mapped(body: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
    try {
      yield* body;
    } catch (err) {
      throw networkError(err, this.server, signal);
    }
  }
}

async function* skip(body: AsyncIterable<Uint8Array>, n: number): AsyncGenerator<Uint8Array> {
  // The server ignored Range and sent the whole blob: drop the prefix we already have.
  let left = n;
  for await (const c of body) {
    if (left >= c.byteLength) {
      left -= c.byteLength;
      continue;
    }
    yield left > 0 ? c.subarray(left) : c;
    left = 0;
  }
}

async function drain(res: Response): Promise<void> {
  for await (const _ of res.body);
}

async function readText(res: Response): Promise<string> {
  const bytes = await collect(res.body, 1024 * 1024).catch(() => new Uint8Array());
  return Buffer.from(bytes).toString('utf8').slice(0, 300).trim();
}

function codeForStatus(status: number): Code {
  if (status === 400) return ErrorCode.InvalidArgument;
  if (status === 401) return ErrorCode.Unauthenticated;
  if (status === 403) return ErrorCode.PermissionDenied;
  if (status === 413) return ErrorCode.TooLarge;
  if (status === 416) return ErrorCode.OutOfRange;
  if (status === 507) return ErrorCode.InsufficientStorage;
  if (status >= 500) return ErrorCode.Unavailable;
  return ErrorCode.Internal;
}

/**
 * A refusal says so first ("authentication failed" for 401, "permission denied" for 403),
 * then the server's own words; the retry policy never repeats either (the same credentials
 * get the same answer). A HEAD answer has no body: its challenge is the server's message.
 */
function statusError(method: string, path: string, server: string, res: Response, text: string): ClientError {
  const status = res.status;
  const refusal = status === 401 ? 'authentication failed: ' : status === 403 ? 'permission denied: ' : '';
  const challenge = res.headers['www-authenticate'];
  const detail = text
    ? `: ${text}`
    : status === 401 && challenge !== undefined
      ? ` (WWW-Authenticate: ${[challenge].flat().join(', ')})`
      : '';
  return new ClientError(`${refusal}${method} ${path} on ${server}: HTTP ${status}${detail}`, {
    server,
    kind: 'status',
    httpStatus: status,
    code: codeForStatus(status),
  });
}
