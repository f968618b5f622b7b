// Error wordings for the protocols whose clients must never see a cache problem as an error
// status (Turborepo, Nx, Gradle): a fault of the cache itself costs the build a hit, never
// the build. A fault is any error the shared table answers with a 5xx (broken, unavailable
// or full store, something unsupported): it gets the protocol's own status instead, while
// sendError still records, counts and logs the real cause. Every other error keeps the
// shared table's status unless the protocol overrides it.
import type { Call } from '../../core/call.ts';
import type { ErrorCode, HoardError } from '../../core/errors.ts';
import type { ErrorWording } from './respond.ts';
import { HTTP_STATUS } from './status.ts';

/** Whether `code` is the cache's fault rather than the request's. */
export function isCacheFault(code: ErrorCode): boolean {
  return HTTP_STATUS[code] >= 500;
}

/**
 * A wording answering every cache fault with `faultStatus`, the codes in `overrides` with
 * theirs, and the rest as the shared table does; `body` as in ErrorWording.
 */
export function tolerantWording(
  faultStatus: number,
  overrides: Partial<Record<ErrorCode, number>> = {},
  body?: ErrorWording['body'],
): ErrorWording {
  return {
    status: (e: HoardError) => overrides[e.code] ?? (isCacheFault(e.code) ? faultStatus : HTTP_STATUS[e.code]),
    body,
  };
}

/**
 * A route's `wording`: `write` for a PUT (the only write these protocols make), `read` for
 * anything else. Also words the access refusals answered before the handler runs.
 */
export function wordingPerOperation(read: ErrorWording, write: ErrorWording): (call: Call) => ErrorWording {
  return (call) => (call.operation === 'PUT' ? write : read);
}
