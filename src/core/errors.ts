// One error root for hoard. Every failure that crosses a layer boundary is a HoardError
// with a stable `code`; each wire protocol maps codes to its own status in one table
// (frontends/*/status.ts). A miss is never an error: lookups return `undefined`.

export const ErrorCode = {
  /** Malformed input: bad hash, bad resource name, bad path, malformed message. */
  InvalidArgument: 'invalid_argument',
  /** The bytes received do not hash to the digest they claim. */
  DigestMismatch: 'digest_mismatch',
  /** The bytes received are more or fewer than the declared size. */
  SizeMismatch: 'size_mismatch',
  /** An offset or limit outside the entry. */
  OutOfRange: 'out_of_range',
  /** A single entry larger than the store accepts. */
  TooLarge: 'too_large',
  /** The store cannot make room for the entry even after eviction. */
  InsufficientStorage: 'insufficient_storage',
  /** The sender went away or the operation was cancelled before it completed. */
  Aborted: 'aborted',
  /** A digest function or compressor the store does not support. */
  Unsupported: 'unsupported',
  /** The caller did not say who it is, or its credentials do not verify. */
  Unauthenticated: 'unauthenticated',
  /** The caller is known but may not do this here (e.g. write to a namespace it may only read). */
  PermissionDenied: 'permission_denied',
  /** The store is closed or shutting down. */
  Unavailable: 'unavailable',
  /** Stored data failed verification on read. */
  Corrupt: 'corrupt',
  /** Anything else: a bug or an I/O failure. */
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class HoardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HoardError';
    this.code = code;
  }
}

/**
 * A call refused by access control: its credentials are missing or do not verify
 * (Unauthenticated), or it may not do this here (PermissionDenied). `reason` is the finer,
 * stable cause the metrics count; `challenges` are the authentication schemes that would be
 * accepted (HTTP answers them as WWW-Authenticate). The message never holds a secret.
 */
export class AccessRefused extends HoardError {
  readonly reason: string;
  readonly challenges: readonly string[];
  constructor(
    code: typeof ErrorCode.Unauthenticated | typeof ErrorCode.PermissionDenied,
    reason: string,
    message: string,
    challenges: readonly string[] = [],
  ) {
    super(code, message);
    this.name = 'AccessRefused';
    this.reason = reason;
    this.challenges = challenges;
  }
}

/** The stable cause a failed call is counted by: an access refusal's reason, else the code. */
export function causeOf(err: HoardError): string {
  return err instanceof AccessRefused ? err.reason : err.code;
}

export function isHoardError(err: unknown, code?: ErrorCode): err is HoardError {
  return err instanceof HoardError && (code === undefined || err.code === code);
}

/** Wraps any thrown value as a HoardError, keeping HoardErrors as they are. */
export function toHoardError(err: unknown): HoardError {
  if (err instanceof HoardError) return err;
  if (isAbortLike(err))
    return new HoardError(ErrorCode.Aborted, 'the transfer was aborted before it completed', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new HoardError(ErrorCode.Internal, message, { cause: err });
}

function isAbortLike(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    err.name === 'AbortError' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR'
  );
}
