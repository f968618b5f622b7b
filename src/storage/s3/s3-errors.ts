// What an S3 failure means to hoard: one HoardError code per kind of failure, and messages
// an operator can act on. Misses never get here (the store answers them as `undefined`
// before asking this module), and neither do the body's own failures (receive() reports
// those, as Aborted, SizeMismatch, DigestMismatch or TooLarge, from the sender's side).
//
// - Refused credentials (403, InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied...):
//   Unavailable, with a message that says so. The caller of hoard is not at fault, so not
//   PermissionDenied; the message names the bucket and the S3 error code, never a key, and
//   the SDK's error is not kept as `cause`: nothing of a signed exchange reaches a log.
// - The bucket's service failing or out of reach (5xx, SlowDown, timeouts, refused or reset
//   connections, a missing bucket, a wrong region): Unavailable.
// - The caller's signal: Aborted.
// - Anything else (a 4xx hoard did not expect): Internal, with the S3 code in the message.
import { ErrorCode, HoardError } from '../../core/errors.ts';

/** The fields of an SDK error (ServiceException or a Node network error) hoard reads. */
interface SdkError {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const CREDENTIAL_CODES: ReadonlySet<string> = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);

const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

const SERVICE_CODES: ReadonlySet<string> = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'TimeoutError',
  'NoSuchBucket',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
]);

/** The HTTP status of an S3 answer, when there was one. */
export function statusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code (NoSuchKey, PreconditionFailed...) or Node error code of `err`. */
export function codeOf(err: unknown): string | undefined {
  const e = err as SdkError | undefined;
  return e?.name === 'Error' || e?.name === undefined ? e?.code : e.name;
}

/**
 * `err` from a call on `bucket` as a HoardError. `aborted` says whether the caller's signal
 * fired (then any failure is the caller's Aborted).
 */
export function s3Error(err: unknown, bucket: string, what: string, aborted = false): HoardError {
  if (err instanceof HoardError) return err;
  if (aborted || (err as SdkError | undefined)?.name === 'AbortError') {
    return new HoardError(ErrorCode.Aborted, `${what} was cancelled before the bucket answered`, { cause: err });
  }
  const status = statusOf(err);
  const name = (err as SdkError | undefined)?.name;
  const code = (err as SdkError | undefined)?.code;
  // An answer without a body (HEAD) has no S3 code: the SDK names it 'Unknown'.
  const named = [name, code].filter((s) => s && s !== 'Error' && s !== 'Unknown').join('/');
  const label = named || (status ? `HTTP ${status}` : 'no answer');
  if (status === 403 || (name !== undefined && CREDENTIAL_CODES.has(name))) {
    // No cause: nothing of the signed exchange (the S3 error body echoes the string it signed).
    return new HoardError(
      ErrorCode.Unavailable,
      `S3 bucket ${bucket} refused hoard's credentials (${label}) on ${what}: check the access key id and secret key`,
    );
  }
  if (
    (status !== undefined && status >= 500) ||
    (name !== undefined && SERVICE_CODES.has(name)) ||
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    (status === undefined && name !== undefined && UNREACHABLE_CODES.has(name))
  ) {
    return new HoardError(
      ErrorCode.Unavailable,
      `S3 bucket ${bucket} is unavailable (${label}${named && status ? `, HTTP ${status}` : ''}) on ${what}`,
      { cause: err },
    );
  }
  if (status === undefined) {
    // No answer at all and no known network code: the request never completed.
    return new HoardError(ErrorCode.Unavailable, `S3 bucket ${bucket} did not answer ${what} (${label})`, {
      cause: err,
    });
  }
  return new HoardError(
    ErrorCode.Internal,
    `S3 bucket ${bucket} refused ${what} (${named || 'no code'}, HTTP ${status})`,
    {
      cause: err,
    },
  );
}
