// A plain HTTP requester for the checks of the mounted protocols (Turborepo, Nx, Gradle,
// WebDAV): any method, any header, the whole answer in memory (check entries are small by
// contract). It carries what the client flags ask for, exactly like the cache client: one
// Authorization (--token as Bearer, else the URL's user info as Basic), extra headers, TLS
// material. Paths are relative to the server URL's path, which is where a real client of
// the protocol is pointed (turbo's --api, Nx's server URL, Gradle's cache URL, the WebDAV
// endpoint). Retries are off: a check wants to see each answer.
import { Pool } from 'undici';
import { authorizationOf, clientTls, withAuthorization } from '../client/client-credentials.ts';
import { networkError } from '../client/client-error.ts';
import type { ClientOptions } from '../client/types.ts';
import { collect } from '../client/transfer.ts';
import { RawExchange } from './raw-exchange.ts';

/** Answers larger than this fail the request: the checks never store more. */
const MAX_BODY = 64 * 1024 * 1024;
/** A whole request, body and answer included: a server trickling bytes never holds a check longer. */
const REQUEST_DEADLINE_MS = 60_000;

export interface ProbeRequest {
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly signal?: AbortSignal;
}

export interface ProbeResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The body as text, for messages (at most 200 printable characters). */
  readonly text: string;
}

export class HttpProbe {
  /** The server without user info: what messages show. */
  readonly server: string;
  readonly #pool: Pool;
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #url: URL;
  readonly #tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(server: string, opts: ClientOptions = {}) {
    const url = new URL(server);
    this.server = `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
    this.#base = url.pathname.replace(/\/+$/, '');
    this.#headers = withAuthorization(opts.headers, authorizationOf(url, opts));
    const tls = clientTls(url, opts);
    this.#url = url;
    this.#tls = tls;
    const idle = opts.idleTimeoutMs ?? 30_000;
    this.#pool = new Pool(url.origin, {
      connections: opts.concurrency ?? 16,
      pipelining: 1,
      headersTimeout: idle,
      bodyTimeout: idle,
      connect: {
        timeout: opts.connectTimeoutMs ?? 10_000,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
      },
    });
  }

  /** The absolute request path of `rel` ('' is the server URL's own path). */
  path(rel: string): string {
    return `${this.#base}/${rel.replace(/^\/+/, '')}`;
  }

  /** Sends one request and reads the whole answer; network failures throw a ClientError naming the server. */
  async request(method: string, rel: string, req: ProbeRequest = {}): Promise<ProbeResponse> {
    const deadline = AbortSignal.timeout(REQUEST_DEADLINE_MS);
    const signal = req.signal === undefined ? deadline : AbortSignal.any([req.signal, deadline]);
    try {
      const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
      const res = await this.#pool.request({
        method,
        path: this.path(rel),
        headers: {
          ...this.#headers,
          ...(body === undefined ? {} : { 'content-length': String(body.byteLength) }),
          ...req.headers,
        },
        body,
        signal,
        // undici closes after a HEAD unless told otherwise; the servers checked here frame it.
        reset: method === 'HEAD' ? false : undefined,
      });
      const bytes = Buffer.from(await collect(res.body, MAX_BODY));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = [v].flat().join(', ');
      return { status: res.statusCode, headers, body: bytes, text: printable(bytes) };
    } catch (err) {
      if (deadline.aborted && !req.signal?.aborted)
        throw networkError(new Error(`no whole answer within ${REQUEST_DEADLINE_MS / 1000} s`), this.server);
      throw networkError(err, this.server, req.signal);
    }
  }

  /**
   * A raw connection to the same server with the same credentials, for what a well-behaved
   * client never sends: a body shorter than its Content-Length, a declared size never sent.
   * The caller destroys it.
   */
  async raw(): Promise<RawExchange> {
    try {
      return await RawExchange.open(this.#url, this.#tls, this.#headers);
    } catch (err) {
      throw networkError(err, this.server);
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** The start of a body as one line for a report: control characters (a terminal's escapes) dropped. */
function printable(bytes: Buffer): string {
  return (
    bytes
      .subarray(0, 400)
      .toString('utf8')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ')
      .trim()
      .slice(0, 200)
  );
}

/** "HTTP 500: the body" for a detail line. */
export function statusText(res: ProbeResponse): string {
  return `HTTP ${res.status}${res.text ? `: ${res.text}` : ''}`;
}
