// The client library's public vocabulary: one CacheClient over both transports (Bazel HTTP
// cache and REAPI gRPC). A miss is a value (`undefined` / `false`), never an exception; every
// call takes an AbortSignal; failures are HoardErrors (ClientError) with stable codes.
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.ts';

/** Bytes to upload. A factory can be reopened at an offset, so a broken upload can be retried or resumed; a one-shot stream cannot. */
export type BodySource = Uint8Array | { open(offset: number): Readable | AsyncIterable<Uint8Array> };

export interface Progress {
  readonly operation: string;
  readonly digest: Digest;
  /** Bytes moved so far in this transfer (including a resumed offset). */
  readonly bytes: number;
  readonly total: number;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Called as bytes move, at most once per chunk. */
  readonly onProgress?: (p: Progress) => void;
}

export interface GetOptions extends CallOptions {
  /** Start at this byte; the bytes before it are skipped (not verified: only a read from 0 is hash-checked). */
  readonly offset?: number;
  /** Hash-check a read from 0 (default true). Off only for load generation, where hashing would cost the server's CPU. */
  readonly verify?: boolean;
}

export interface ServerCapabilities {
  readonly protocol: 'http' | 'grpc';
  readonly digestFunctions: readonly string[];
  readonly actionCacheUpdate: boolean;
  /** 0 = no limit advertised. */
  readonly maxBatchTotalSizeBytes: number;
  readonly compressors: readonly string[];
  readonly apiVersion?: { low: string; high: string };
}

export type ClientEvent =
  | { readonly type: 'connect'; readonly server: string; readonly reconnect: boolean }
  | { readonly type: 'disconnect'; readonly server: string; readonly reason: string }
  | {
      readonly type: 'retry';
      readonly server: string;
      readonly operation: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | { readonly type: 'reconnected'; readonly server: string; readonly operation: string; readonly after: string }
  | { readonly type: 'resume'; readonly server: string; readonly operation: string; readonly offset: number };

export interface RetryOptions {
  /** Attempts after the first (default 5, like Bazel's --remote_retries). 0 disables retries. */
  readonly retries?: number;
  /** First backoff delay (default 100 ms); doubles each attempt, ±10% jitter. */
  readonly baseDelayMs?: number;
  /** Backoff cap (default 5 s). */
  readonly maxDelayMs?: number;
}

export interface BasicCredentials {
  /** May not contain ':' (RFC 7617). */
  readonly user: string;
  readonly password: string;
}

export interface ClientOptions {
  /** Concurrent operations (and, for HTTP, connections). Default 32. */
  readonly concurrency?: number;
  /** Fail a transfer that makes no progress for this long (default 60 s, like Bazel's --remote_timeout). */
  readonly idleTimeoutMs?: number;
  /** Give up connecting after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
  readonly retry?: RetryOptions;
  /** REAPI instance name (gRPC only; for HTTP, put a path prefix in the URL). */
  readonly instanceName?: string;
  /**
   * PEM certificates to trust for https:// and grpcs:// (a private CA), instead of the
   * system's. The CLI's --tls-ca-file.
   */
  readonly ca?: string | Uint8Array;
  /**
   * A bearer token (an access-file token or a JWT), sent as `Authorization: Bearer <token>`
   * on every request (HTTP header; gRPC metadata). A call carries at most one Authorization,
   * the first of: `token`, the user info of the server URL (`http(s)://user:pass@host`,
   * `grpc(s)://user:pass@host:port`, percent-decoded, sent as Basic), `basic`, an
   * `authorization` in `headers`. The CLI's --token / HOARD_TOKEN.
   */
  readonly token?: string;
  /** User and password for `Authorization: Basic`, for a server URL given without them (see `token`). */
  readonly basic?: BasicCredentials;
  /**
   * gRPC only: send Basic credentials (the URL's user info or `basic`) in the HTTP/2
   * `:authority` as `user:password@host:port`, the way Bazel does, instead of as metadata.
   * bazel-remote reads gRPC Basic credentials only there; hoard takes it on plain-text gRPC
   * only, and most other HTTP/2 servers refuse it (RFC 9113 8.3.1). The CLI's
   * --grpc-authority-credentials.
   */
  readonly grpcAuthorityCredentials?: boolean;
  /**
   * PEM client certificate (chain) and its unencrypted private key, for https:// and
   * grpcs:// servers that ask for one (mTLS); both or neither. The CLI's --tls-cert-file and
   * --tls-key-file.
   */
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
  /** Extra request headers / gRPC metadata. An `authorization` here is sent only without `token` and user info. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Observability hook: connects, disconnects, retries, reconnects, resumes. */
  readonly onEvent?: (e: ClientEvent) => void;
  /** gRPC ByteStream chunk size (default 64 KiB). */
  readonly chunkSize?: number;
}

export interface CacheClient {
  /** The server as given, without user info (never a password): what messages and `toString()` show. */
  readonly server: string;
  readonly protocol: 'http' | 'grpc';
  capabilities(opts?: CallOptions): Promise<ServerCapabilities>;
  /** The subset of `digests` the server lacks. */
  findMissing(digests: readonly Digest[], opts?: CallOptions): Promise<Digest[]>;
  has(digest: Digest, opts?: CallOptions): Promise<boolean>;
  /** Uploads a CAS blob; resolves only once the server acknowledged it (rule 3). */
  put(digest: Digest, body: BodySource, opts?: CallOptions): Promise<void>;
  /** A CAS blob as a stream that errors if the bytes do not match the digest; undefined on a miss. */
  get(digest: Digest, opts?: GetOptions): Promise<Readable | undefined>;
  /** A CAS blob in memory (small blobs), verified; undefined on a miss. */
  getBytes(digest: Digest, opts?: CallOptions): Promise<Uint8Array | undefined>;
  /** The encoded ActionResult stored under the Action digest; undefined on a miss. */
  getActionResult(actionDigest: Digest, opts?: CallOptions): Promise<Uint8Array | undefined>;
  putActionResult(actionDigest: Digest, encodedActionResult: Uint8Array, opts?: CallOptions): Promise<void>;
  close(): Promise<void>;
}
