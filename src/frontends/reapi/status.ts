// The one table mapping hoard's error codes to gRPC status codes for the REAPI frontend
// (rule 7), chosen against docs/PROTOCOLS.md §2.6 and Bazel's retry set (§2.8.2): client mistakes
// are INVALID_ARGUMENT / OUT_OF_RANGE so Bazel does not retry them five times; quota is
// RESOURCE_EXHAUSTED; a cut upload is ABORTED so Bazel retries and resumes via
// QueryWriteStatus. A miss is not an error code: services answer NOT_FOUND themselves.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ErrorCode, toHoardError, type HoardError } from '../../core/errors.ts';

export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = {
  [ErrorCode.InvalidArgument]: status.INVALID_ARGUMENT,
  [ErrorCode.DigestMismatch]: status.INVALID_ARGUMENT,
  [ErrorCode.SizeMismatch]: status.INVALID_ARGUMENT,
  [ErrorCode.OutOfRange]: status.OUT_OF_RANGE,
  // max_cas_blob_size_bytes semantics: an over-limit blob is INVALID_ARGUMENT (§2.6).
  [ErrorCode.TooLarge]: status.INVALID_ARGUMENT,
  [ErrorCode.InsufficientStorage]: status.RESOURCE_EXHAUSTED,
  [ErrorCode.Aborted]: status.ABORTED,
  [ErrorCode.Unsupported]: status.INVALID_ARGUMENT,
  [ErrorCode.Unauthenticated]: status.UNAUTHENTICATED,
  [ErrorCode.PermissionDenied]: status.PERMISSION_DENIED,
  [ErrorCode.Unavailable]: status.UNAVAILABLE,
  [ErrorCode.Corrupt]: status.DATA_LOSS,
  [ErrorCode.Internal]: status.INTERNAL,
};

/** A status-carrying error grpc-js sends as-is (code + details). */
export function grpcError(code: status, details: string): ServiceError {
  const err = new Error(details) as ServiceError;
  err.code = code;
  err.details = details;
  err.metadata = new Metadata();
  return err;
}

function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    typeof (err as Partial<ServiceError>).details === 'string'
  );
}

/** Any thrown value → the status the client sees. HoardErrors keep their message. */
export function toServiceError(err: unknown): ServiceError {
  if (isServiceError(err)) return err;
  const he: HoardError = toHoardError(err);
  return grpcError(GRPC_STATUS[he.code], he.message);
}

/** google.rpc.Status for per-item results (BatchUpdateBlobs, BatchReadBlobs). */
export interface RpcStatus {
  code: number;
  message: string;
}

export const OK_STATUS: RpcStatus = { code: status.OK, message: '' };

export function toRpcStatus(err: unknown): RpcStatus {
  const se = toServiceError(err);
  return { code: se.code, message: se.details };
}
