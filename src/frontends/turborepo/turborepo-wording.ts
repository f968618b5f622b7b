// How Turborepo's clients are told about a failure. turbo parses a 403's JSON body
// `{"error":{"code","message"}}`: a `remote_caching_*` code (disabled, over_limit, paused)
// turns remote caching off for the rest of the run, and `forbidden` sends it looking for a
// replacement token among its own login files; any other code fails only the request at hand
// and is printed with its message. Every answer here carries that body, with hoard's own
// error code, which is never one of those.
//
// turbo retries a 5xx once after sleeping 2-10 s, and three failures of that kind in a row
// pause its remote cache for 30 s, reads included. So a store fault never answers 5xx:
//   - a read (GET, HEAD) answers 404, a miss: turbo runs the task, the build goes on;
//   - a write (PUT) answers 403 with the fault's code: turbo warns with hoard's message and
//     goes on without that upload, its reads unaffected.
// The call still records the real cause (sendError), so the fault is counted and logged.
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { ErrorWording } from '../http/respond.ts';

/** A PUT without Content-Length: answered 411, the status HTTP has for it. */
export class LengthRequired extends HoardError {
  constructor() {
    super(ErrorCode.InvalidArgument, 'an artifact upload needs a Content-Length');
  }
}

const FAULTS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.InsufficientStorage,
  ErrorCode.Internal,
  ErrorCode.Corrupt,
  ErrorCode.Unavailable,
]);

const CLIENT_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.DigestMismatch]: 400,
  [ErrorCode.SizeMismatch]: 400,
  [ErrorCode.OutOfRange]: 416,
  [ErrorCode.TooLarge]: 413,
  // The client stopped sending: it rarely reads this answer.
  [ErrorCode.Aborted]: 408,
  [ErrorCode.Unsupported]: 501,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.PermissionDenied]: 403,
};

function wording(faultStatus: number): ErrorWording {
  return {
    status(e) {
      if (e instanceof LengthRequired) return 411;
      if (FAULTS.has(e.code)) return faultStatus;
      return CLIENT_STATUS[e.code] ?? 400;
    },
    body(e) {
      return {
        contentType: 'application/json',
        text: JSON.stringify({ error: { code: e.code, message: e.message } }),
      };
    },
  };
}

/** For GET, HEAD and the queries: a store fault is a miss. Also words access refusals. */
export const READ_WORDING = wording(404);
/** For PUT: a store fault fails that upload only. */
export const WRITE_WORDING = wording(403);

export function wordingFor(method: string | undefined): ErrorWording {
  return method === 'PUT' ? WRITE_WORDING : READ_WORDING;
}
