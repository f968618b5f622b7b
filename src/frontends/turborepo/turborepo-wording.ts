// How Turborepo's clients are told about a failure. turbo parses a 403's JSON body
// `{"error":{"code","message"}}`: a `remote_caching_*` code (disabled, over_limit, paused)
// turns remote caching off for the rest of the run, and `forbidden` sends it looking for a
// replacement token among its own login files; any other code fails only the request at hand
// and is printed with its message. Every answer here carries that body, with hoard's own
// error code, which is never one of those.
//
// turbo retries a 5xx once after sleeping 2-10 s, and three failures of that kind in a row
// pause its remote cache for 30 s, reads included. So a cache fault never answers 5xx:
//   - a read (GET, HEAD, the queries) answers 404, a miss: turbo runs the task;
//   - a write (PUT) answers 403 with the fault's code: turbo warns with hoard's message and
//     goes on without that upload, its reads unaffected.
// The call still records the real cause (sendError), so the fault is counted and logged.
import type { HoardError } from '../../core/errors.ts';
import type { ErrorWording } from '../http/respond.ts';
import { tolerantWording, wordingPerOperation } from '../http/tolerant-wording.ts';

function turboJson(e: HoardError): { contentType: string; text: string } {
  return { contentType: 'application/json', text: JSON.stringify({ error: { code: e.code, message: e.message } }) };
}

/** Also words the access refusals of reads: 401, and 403 `permission_denied`. */
export const READ_WORDING = tolerantWording(404, {}, turboJson);
export const WRITE_WORDING = tolerantWording(403, {}, turboJson);

/** A PUT without Content-Length: 411, the status HTTP has for it (turbo always sends one). */
export const LENGTH_REQUIRED_WORDING: ErrorWording = { status: () => 411, body: turboJson };

export const turboWording = wordingPerOperation(READ_WORDING, WRITE_WORDING);
