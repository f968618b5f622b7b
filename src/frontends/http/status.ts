// The one table mapping hoard's error codes to HTTP status codes, shared by every HTTP
// frontend (Bazel HTTP, ccache). Storage throws HoardErrors with stable codes; only this
// file knows what they mean on the HTTP wire. Bazel retries 500/502/503/504 and never
// retries 4xx, so a client mistake must never surface as a 5xx (rule 7).
import { ErrorCode } from '../../core/errors.ts';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.DigestMismatch]: 400,
  [ErrorCode.SizeMismatch]: 400,
  [ErrorCode.OutOfRange]: 416,
  [ErrorCode.TooLarge]: 413,
  [ErrorCode.InsufficientStorage]: 507,
  // The client stopped sending (truncated body, no progress): it rarely reads this answer.
  [ErrorCode.Aborted]: 408,
  [ErrorCode.Unsupported]: 501,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.PermissionDenied]: 403,
  // Shutting down: 503 is retried by Bazel, against the restarted server.
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.Corrupt]: 500,
  [ErrorCode.Internal]: 500,
};
