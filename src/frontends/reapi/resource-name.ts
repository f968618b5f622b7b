// ByteStream resource names (docs/PROTOCOLS.md §2.5):
//   read:  {instance}/blobs/{fn/}{hash}/{size}
//          {instance}/compressed-blobs/{compressor}/{fn/}{hash}/{size}
//   write: {instance}/uploads/{uuid}/blobs/{fn/}{hash}/{size}{/metadata...}
//          {instance}/uploads/{uuid}/compressed-blobs/{compressor}/{fn/}{hash}/{size}{/metadata...}
// The instance name may span several segments and never contains a reserved word, so we
// split at the FIRST reserved segment. Every malformed name is an InvalidArgument with a
// message naming the part that is wrong; known-but-unsupported digest functions and
// compressors are Unsupported (INVALID_ARGUMENT on the wire, naming the function).
import { checkDigest, type Digest, type DigestFunction } from '../../core/digest.ts';
import { DIGEST_FUNCTION_NAMES } from '../../core/digest-functions.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';

const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([
  'blobs',
  'uploads',
  'actions',
  'actionResults',
  'operations',
  'capabilities',
  'compressed-blobs',
]);

export type Compression = 'identity' | 'zstd';

export interface BlobResource {
  readonly kind: 'read' | 'write';
  readonly instanceName: string;
  /** The client's upload id (write names only). */
  readonly uuid?: string;
  readonly compression: Compression;
  readonly digestFunction: DigestFunction;
  /** Uncompressed hash and size. */
  readonly digest: Digest;
}

/** Digest functions that may appear as a path segment; only sha256 is served. */
const FUNCTION_SEGMENTS = new Set(DIGEST_FUNCTION_NAMES.slice(1));
/** Hash lengths of the functions inferred from length (§2.5), for a precise error. */
const INFERRED_BY_LENGTH: Readonly<Record<number, string>> = {
  40: 'SHA1',
  32: 'MD5',
  96: 'SHA384',
  128: 'SHA512',
  66: 'VSO',
};
const KNOWN_COMPRESSORS = new Set(['deflate', 'brotli']);
const DECIMAL = /^(0|[1-9][0-9]*)$/;

export function parseReadResourceName(name: string): BlobResource {
  const r = parseResourceName(name);
  if (r.kind !== 'read') {
    throw invalid(
      name,
      'a read needs "{instance}/blobs/{hash}/{size}" or "{instance}/compressed-blobs/zstd/{hash}/{size}", not an upload name',
    );
  }
  return r;
}

export function parseWriteResourceName(name: string): BlobResource {
  const r = parseResourceName(name);
  if (r.kind !== 'write') {
    throw invalid(
      name,
      'a write needs "{instance}/uploads/{uuid}/blobs/{hash}/{size}" (or .../compressed-blobs/zstd/...)',
    );
  }
  return r;
}

export function parseResourceName(name: string): BlobResource {
  if (name.length === 0) throw invalid(name, 'resource_name is empty');
  const segs = name.split('/');
  const k = segs.findIndex((s) => RESERVED_SEGMENTS.has(s));
  if (k < 0) throw invalid(name, 'no "blobs", "compressed-blobs" or "uploads" segment');
  const instance = segs.slice(0, k);
  if (instance.some((s) => s.length === 0))
    throw invalid(name, 'the instance name has an empty segment (leading, trailing or double slash)');
  let i = k;
  let kind: 'read' | 'write' = 'read';
  let uuid: string | undefined;
  if (segs[i] === 'uploads') {
    kind = 'write';
    uuid = segs[i + 1];
    if (!uuid || RESERVED_SEGMENTS.has(uuid)) throw invalid(name, 'missing upload id after "uploads/"');
    i += 2;
  }
  let compression: Compression = 'identity';
  const word = segs[i];
  if (word === 'compressed-blobs') {
    compression = compressorOf(name, segs[i + 1]);
    i += 2;
  } else if (word !== 'blobs') {
    throw invalid(
      name,
      `expected "blobs" or "compressed-blobs" at segment ${i + 1}, found ${JSON.stringify(word ?? '')}`,
    );
  } else {
    i += 1;
  }
  let digestFunction: DigestFunction = 'sha256';
  const fn = segs[i];
  if (fn !== undefined && FUNCTION_SEGMENTS.has(fn)) {
    if (fn !== 'sha256') throw unsupportedFunction(fn.toUpperCase());
    digestFunction = 'sha256';
    i += 1;
  }
  const hash = segs[i];
  const size = segs[i + 1];
  if (hash === undefined || size === undefined) throw invalid(name, 'expected "{hash}/{size}" after the blobs segment');
  const byLength = INFERRED_BY_LENGTH[hash.length];
  if (byLength && /^[0-9a-f]+$/.test(hash)) throw unsupportedFunction(byLength);
  if (!DECIMAL.test(size) || !Number.isSafeInteger(Number(size)))
    throw invalid(name, `size ${JSON.stringify(size)} is not a decimal byte count`);
  const digest: Digest = { hash, sizeBytes: Number(size) };
  try {
    checkDigest(digest, digestFunction);
  } catch (err) {
    throw invalid(name, (err as Error).message);
  }
  const rest = segs.slice(i + 2);
  // Uploads may carry implementation-specific metadata after the size; reads may not.
  if (kind === 'read' && rest.length > 0)
    throw invalid(name, `unexpected ${JSON.stringify(rest.join('/'))} after the size`);
  return { kind, instanceName: instance.join('/'), uuid, compression, digestFunction, digest };
}

function compressorOf(name: string, seg: string | undefined): Compression {
  if (seg === 'zstd') return 'zstd';
  if (seg !== undefined && KNOWN_COMPRESSORS.has(seg)) {
    throw new HoardError(
      ErrorCode.Unsupported,
      `compressor ${seg} is not supported: this server supports zstd (and identity via "blobs/")`,
    );
  }
  throw invalid(name, `unknown compressor ${JSON.stringify(seg ?? '')} after "compressed-blobs/": expected zstd`);
}

function unsupportedFunction(fn: string): HoardError {
  return new HoardError(ErrorCode.Unsupported, `digest function ${fn} is not supported: this server supports SHA256`);
}

function invalid(name: string, why: string): HoardError {
  return new HoardError(
    ErrorCode.InvalidArgument,
    `malformed resource_name ${JSON.stringify(name.slice(0, 300))}: ${why}`,
  );
}
