// A HeadObject without the SDK's middleware, for the existence checks FindMissingBlobs makes:
// one per digest the disk does not have, all on the store thread. Through the SDK a HEAD
// costs 0.6-0.8 ms of CPU (middleware stack, endpoint rules, response parsing); signed by
// the SDK's own SigV4 signer and sent over a keep-alive agent it costs about 0.2 ms, and 500
// of them answer in about half the time (bench/RESULTS.md, S3 shared tier).
//
// Only the two everyday answers are taken here: 200 (present, with its size) and 404
// (absent). Anything else (another status, a network error, a timeout, a redirect to
// another region) is `undefined`: the caller asks again through the SDK, which retries,
// corrects clock skew and turns the answer into a precise error. A probe whose doubts the
// SDK keeps resolving (an endpoint this file addresses differently) turns itself off.
import http from 'node:http';
import https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { emptyHash } from '../../core/digest.ts';

type SignerOptions = ConstructorParameters<typeof SignatureV4>[0];

export interface HeadProbeOptions {
  /** The S3Store's endpoint; AWS's regional endpoint when absent. */
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  readonly forcePathStyle: boolean;
  /** The S3 client's resolved credentials (a provider that refreshes them). */
  readonly credentials: SignerOptions['credentials'];
  /** The S3 client's hash constructor, which its own signer uses. */
  readonly sha256: SignerOptions['sha256'];
  readonly requestTimeoutMs: number;
}

/** Present with its size (and Last-Modified, epoch ms, when given), absent, or undefined: ask the SDK. */
type ProbeAnswer = { readonly size: number; readonly lastModified?: number } | null | undefined;

/** Doubts the SDK then answered plainly, after which the probe stops asking. */
const MAX_WRONG_DOUBTS = 3;
/** Connections kept to the bucket for probes (FindMissingBlobs keeps 32 HEADs in flight). */
const MAX_SOCKETS = 64;

export class HeadProbe {
  readonly #signer: SignatureV4;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #protocol: string;
  readonly #hostname: string;
  readonly #port: number | undefined;
  readonly #host: string;
  /** The path up to the object key, with a trailing slash. */
  readonly #pathBase: string;
  readonly #timeoutMs: number;
  #wrongDoubts = 0;

  constructor(options: HeadProbeOptions) {
    const base = new URL(options.endpoint ?? `https://s3.${options.region}.amazonaws.com`);
    const secure = base.protocol === 'https:';
    // Virtual-hosted addressing as the SDK does it, but only where a bucket name makes a
    // valid host name (with TLS, a dotted name breaks the certificate): path style otherwise.
    const virtual = !options.forcePathStyle && /^[a-z0-9][a-z0-9-]*[a-z0-9]$/.test(options.bucket);
    const root = base.pathname.replace(/\/+$/, '');
    this.#protocol = base.protocol;
    this.#hostname = virtual ? `${options.bucket}.${base.hostname}` : base.hostname;
    this.#port = base.port === '' ? undefined : Number(base.port);
    this.#host = base.port === '' ? this.#hostname : `${this.#hostname}:${base.port}`;
    this.#pathBase = virtual ? `${root}/` : `${root}/${encodeSegment(options.bucket)}/`;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#request = secure ? https.request : http.request;
    this.#agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: MAX_SOCKETS });
    this.#signer = new SignatureV4({
      service: 's3',
      region: options.region,
      credentials: options.credentials,
      sha256: options.sha256,
      // The path is already encoded once, as S3 signs it.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** Whether probing is still worth it: false once the SDK kept answering what it doubted. */
  get enabled(): boolean {
    return this.#wrongDoubts < MAX_WRONG_DOUBTS;
  }

  /** The SDK answered plainly (present or absent) where the probe returned undefined. */
  doubtResolved(): void {
    this.#wrongDoubts++;
  }

  /** HEAD of `objectKey`: its size, null when absent, undefined when the SDK must ask. */
  async head(objectKey: string, signal?: AbortSignal): Promise<ProbeAnswer> {
    const path = this.#pathBase + encodeKeyPath(objectKey);
    let headers: Record<string, string>;
    try {
      const signed = await this.#signer.sign({
        method: 'HEAD',
        protocol: this.#protocol,
        hostname: this.#hostname,
        port: this.#port,
        path,
        query: {},
        headers: { host: this.#host, 'x-amz-content-sha256': emptyHash('sha256') /* a HEAD's empty body */ },
      });
      headers = signed.headers;
    } catch {
      return undefined; // no credentials yet, or a provider that failed: the SDK says why
    }
    return new Promise<ProbeAnswer>((resolve) => {
      const req = this.#request(
        {
          agent: this.#agent,
          method: 'HEAD',
          hostname: this.#hostname,
          port: this.#port,
          path,
          headers,
          signal,
          timeout: this.#timeoutMs,
        },
        (res) => {
          res.resume();
          const length = Number(res.headers['content-length']);
          const modified = Date.parse(res.headers['last-modified'] ?? '');
          if (res.statusCode === 200 && Number.isSafeInteger(length) && length >= 0) {
            resolve(Number.isNaN(modified) ? { size: length } : { size: length, lastModified: modified });
          } else if (res.statusCode === 404) resolve(null);
          else resolve(undefined);
        },
      );
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(undefined));
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** An object key as a URL path (and a CopySource) spells it: each segment encoded, '/' kept. */
export function encodeKeyPath(objectKey: string): string {
  return objectKey.split('/').map(encodeSegment).join('/');
}

/** One path segment as S3 signs it: every byte but A-Z a-z 0-9 - _ . ~ percent-encoded. */
function encodeSegment(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
