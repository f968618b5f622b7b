// How the Gradle frontend words a failure. Gradle's HTTP build cache client fails the build
// on 305, 400, 401, 403, 405, 406, 407, 411, 415, 417, 426, 505 and 511, and on any other
// non-success turns its remote cache off for the rest of the build, except 413 on a store,
// which means "too large to accept" and costs that one entry only. So a cache fault must
// never reach it as an error status:
//   - a load that fails, or that the identity may not make here, is a miss (404): the
//     task runs, later loads still ask;
//   - a store that cannot be kept (full store, oversize entry, broken store, an identity
//     that may only read: push = true with read-only credentials, or another namespace's)
//     is 413; the loads such a build makes are what it is allowed;
//   - a wrong or missing credential stays 401: a configuration error the user must see.
// The real cause is what sendError records on the call: counted and logged as a failure
// whatever status Gradle is told.
import { ErrorCode } from '../../core/errors.ts';
import { tolerantWording, wordingPerOperation } from '../http/tolerant-wording.ts';

export const GRADLE_READ_WORDING = tolerantWording(404, { [ErrorCode.PermissionDenied]: 404 });

/** TooLarge is already 413 in the shared table. */
export const GRADLE_WRITE_WORDING = tolerantWording(413, { [ErrorCode.PermissionDenied]: 413 });

export const gradleWording = wordingPerOperation(GRADLE_READ_WORDING, GRADLE_WRITE_WORDING);
