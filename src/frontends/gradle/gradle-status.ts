// How the Gradle frontend words a failure. Gradle's HTTP build cache client fails the build
// on 305, 400, 401, 403, 405, 406, 407, 411, 415, 417, 426, 505 and 511, and on any other
// non-success turns its remote cache off for the rest of the build, except 413 on a store,
// which means "too large to accept" and costs that one entry only. So a cache fault must
// never reach it as an error status:
//   - a load that fails, or that the identity may not make here, is a miss (404): the
//     task runs, later loads still ask;
//   - a store that cannot be kept (full store, oversize entry, broken store, an identity
//     that may only read) is 413;
//   - a wrong or missing credential stays 401: a configuration error the user must see.
// The real cause is what sendError records on the call: counted and logged as a failure
// whatever status Gradle is told.
import type { Call } from '../../core/call.ts';
import { ErrorCode, type HoardError } from '../../core/errors.ts';
import type { ErrorWording } from '../http/respond.ts';
import { HTTP_STATUS } from '../http/status.ts';

/** Faults of the cache itself, not of the request. */
const CACHE_FAULTS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.Internal,
  ErrorCode.Corrupt,
  ErrorCode.Unavailable,
  ErrorCode.InsufficientStorage,
  ErrorCode.TooLarge,
]);

/**
 * GET: a cache fault is a miss. So is a read refused to an identity that may not read this
 * namespace: it costs the hits, not the build (a wrong or missing credential stays 401).
 */
export const GRADLE_READ_WORDING: ErrorWording = {
  status: (e: HoardError) =>
    CACHE_FAULTS.has(e.code) || e.code === ErrorCode.PermissionDenied ? 404 : HTTP_STATUS[e.code],
};

/**
 * PUT: a cache fault is "too large to accept" (413), which skips that entry only. So is a
 * store refused to an identity that may only read (push = true with read-only credentials,
 * or another namespace's): newer Gradle fails the build on 403, while the loads such a
 * build makes are what it is allowed; the refusal is still counted by its cause.
 */
export const GRADLE_WRITE_WORDING: ErrorWording = {
  status: (e: HoardError) =>
    CACHE_FAULTS.has(e.code) || e.code === ErrorCode.PermissionDenied ? 413 : HTTP_STATUS[e.code],
};

/** The wording of a call's errors, also of access refusals answered before the handler runs. */
export function gradleWording(call: Call): ErrorWording {
  return call.operation === 'PUT' ? GRADLE_WRITE_WORDING : GRADLE_READ_WORDING;
}
