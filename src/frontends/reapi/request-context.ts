// What every REAPI service shares: the store, the frozen options, and the request-level
// checks that are the same for every RPC (instance name → namespace, digest_function,
// Digest messages). Services stay free of these details.
import type { Logger } from 'pino';
import type { CallChain } from '../../core/call.ts';
import { DIGEST_FUNCTION_NAMES } from '../../core/digest-functions.ts';
import { namespaceOfInstanceName } from '../../cache/namespaces.ts';
import type { Digest } from '../../core/digest.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { Store } from '../../storage/store.ts';
import type { PartialUploads } from './partial-uploads.ts';
import type { PublishedBlobs } from './published-blobs.ts';
import type { ReapiOptions } from './reapi-options.ts';

export interface ReapiContext {
  readonly store: Store;
  readonly options: ReapiOptions;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly published: PublishedBlobs;
  readonly partials: PartialUploads;
  /** What every call goes through: admission before the store, then the access log and metrics. */
  readonly chain: CallChain;
}

/** DigestFunction.Value numbers (docs/PROTOCOLS.md §2.3). */
export const DigestFunctionValue = { UNKNOWN: 0, SHA256: 1 } as const;

/** Compressor.Value numbers. */
export const CompressorValue = { IDENTITY: 0, ZSTD: 1 } as const;
const COMPRESSOR_NAMES = ['IDENTITY', 'ZSTD', 'DEFLATE', 'BROTLI'];

/** The store namespace of a request's instance_name (src/cache/namespaces.ts decides). */
export function namespaceOf(ctx: ReapiContext, instanceName: string | undefined): string {
  return namespaceOfInstanceName(ctx.options.instanceNamespacing, instanceName);
}

/**
 * Unset (UNKNOWN) means "infer from the hash length": SHA-256 lengths pass, anything
 * else fails the hash check later with its own message. Any other function is refused.
 */
export function checkDigestFunction(value: number | undefined): void {
  const v = value ?? 0;
  if (v === DigestFunctionValue.UNKNOWN || v === DigestFunctionValue.SHA256) return;
  const name = DIGEST_FUNCTION_NAMES[v]?.toUpperCase() ?? `#${v}`;
  throw new HoardError(ErrorCode.Unsupported, `digest_function ${name} is not supported: this server supports SHA256`);
}

export function compressorName(v: number): string {
  return COMPRESSOR_NAMES[v] ?? `#${v}`;
}

/** A request's Digest message, and its check (InvalidArgument naming the field). */
export { digestOfMessage as digestFrom, type DigestMessage as DigestMsg } from '../../core/proto-values.ts';

/** A Digest for a response message. */
export function digestMsg(d: Digest): { hash: string; sizeBytes: number } {
  return { hash: d.hash, sizeBytes: d.sizeBytes };
}

/**
 * The error for a blob that is present with another size than the digest asking for it:
 * a hash never has two sizes, so the digest is wrong (INVALID_ARGUMENT, not NOT_FOUND).
 */
export function wrongSize(hash: string, actual: number, declared: number): HoardError {
  return new HoardError(
    ErrorCode.SizeMismatch,
    `blob ${hash} has ${actual} bytes, not the ${declared} its digest says`,
  );
}

/** Refuses blobs above the configured max_cas_blob_size_bytes (INVALID_ARGUMENT, docs/PROTOCOLS.md §2.6). */
export function checkBlobSize(ctx: ReapiContext, d: Digest): void {
  const max = ctx.options.maxBlobSize;
  if (max > 0 && d.sizeBytes > max) {
    throw new HoardError(
      ErrorCode.TooLarge,
      `blob ${d.hash}/${d.sizeBytes} is larger than this server's max_cas_blob_size_bytes of ${max}`,
    );
  }
}
