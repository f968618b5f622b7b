// How the Nx frontend words a failure. Nx's client (Nx 20.8+, "custom remote cache
// specification") ends the whole run on any status it does not expect, transient 5xx
// included, and on a 403 to a GET, so a cache fault must never reach it as an error status:
//   - a read that fails, or that the identity may not make here, is a miss (404): the
//     task runs, the build goes on;
//   - a write that cannot be stored (a fault, a full store, an entry over --max-blob-size,
//     an identity that may only read) is "not stored" (403): Nx drops the upload quietly;
//   - a missing or wrong token is a configuration error the user must see: 401 with a
//     text/plain body, the only 401 Nx turns into a readable message.
// The real cause is what sendError records on the call: counted and logged as a failure
// whatever status Nx is told.
import { ErrorCode, type HoardError } from '../../core/errors.ts';
import type { ErrorWording } from '../http/respond.ts';
import { tolerantWording, wordingPerOperation } from '../http/tolerant-wording.ts';

/**
 * Exactly `text/plain`: Nx shows a 401's body as "Unauthorized: <body>" only with this
 * content type, and calls `text/plain; charset=utf-8` a misconfigured endpoint.
 */
function plainText(e: HoardError): { contentType: string; text: string } {
  return { contentType: 'text/plain', text: `${e.code}: ${e.message}\n` };
}

export const NX_READ_WORDING = tolerantWording(404, { [ErrorCode.PermissionDenied]: 404 }, plainText);

export const NX_WRITE_WORDING = tolerantWording(403, { [ErrorCode.TooLarge]: 403 }, plainText);

/** A PUT without Content-Length: "not stored" (403), not a status Nx would end the run on. */
export const NX_LENGTH_REQUIRED: ErrorWording = { status: () => 403, body: plainText };

export const nxWording = wordingPerOperation(NX_READ_WORDING, NX_WRITE_WORDING);
