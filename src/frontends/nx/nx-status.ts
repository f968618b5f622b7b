// How the Nx frontend words a failure. Nx's client (Nx 20.8+, "custom remote cache
// specification") ends the whole run on any status it does not expect, transient 5xx
// included, so a cache fault must never reach it as an error status:
//   - a read that fails, or that the identity may not make here, is a miss (404): the
//     task runs, the build goes on;
//   - a write that cannot be stored is "not stored" (403): Nx drops the upload quietly;
//   - a missing or wrong token is a configuration error the user must see: 401 with a
//     text/plain body, the only 401 Nx turns into a readable message.
// The real cause is what sendError records on the call: counted and logged as a failure
// whatever status Nx is told.
import type { Call } from '../../core/call.ts';
import { ErrorCode, type HoardError } from '../../core/errors.ts';
import type { ErrorWording } from '../http/respond.ts';
import { HTTP_STATUS } from '../http/status.ts';

/** Faults of the cache itself, not of the request: never an error status for Nx. */
const CACHE_FAULTS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.Internal,
  ErrorCode.Corrupt,
  ErrorCode.Unavailable,
  ErrorCode.InsufficientStorage,
  ErrorCode.TooLarge,
]);

/**
 * Exactly `text/plain`: Nx shows a 401's body as "Unauthorized: <body>" only with this
 * content type, and calls `text/plain; charset=utf-8` a misconfigured endpoint.
 */
function plainText(e: HoardError): { contentType: string; text: string } {
  return { contentType: 'text/plain', text: `${e.code}: ${e.message}\n` };
}

/**
 * GET: a cache fault is a miss. So is a read refused to an identity that may not read this
 * namespace: it costs the hits, not the build (a wrong or missing credential stays 401).
 */
export const NX_READ_WORDING: ErrorWording = {
  status: (e: HoardError) =>
    CACHE_FAULTS.has(e.code) || e.code === ErrorCode.PermissionDenied ? 404 : HTTP_STATUS[e.code],
  body: plainText,
};

/** PUT: a cache fault (full, oversize, broken) is "not stored", which Nx accepts silently. */
export const NX_WRITE_WORDING: ErrorWording = {
  status: (e: HoardError) => (CACHE_FAULTS.has(e.code) ? 403 : HTTP_STATUS[e.code]),
  body: plainText,
};

/** A PUT without Content-Length: refused as "not stored" (403), not with a status Nx would end the run on. */
export const NX_LENGTH_REQUIRED: ErrorWording = { status: () => 403, body: plainText };

/** The wording of a call's errors, also of access refusals answered before the handler runs. */
export function nxWording(call: Call): ErrorWording {
  return call.operation === 'PUT' ? NX_WRITE_WORDING : NX_READ_WORDING;
}
