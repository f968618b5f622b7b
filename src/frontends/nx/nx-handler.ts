// The Nx self-hosted remote cache ("custom remote cache specification" 1.0.0): `GET` and
// `PUT {server}/v1/cache/{hash}`, the server URL's path before the mount being the
// namespace. The body is Nx's archive of a task's outputs, opaque to us: it lives in the
// raw keyspace under `nx:<hash>`.
//
// Records are immutable: a PUT of a hash already stored answers 409 and changes nothing
// (Nx reads 409 as "already exists"). A stored PUT answers exactly 200: the spec says 202,
// but the client accepts only 200 and ends the run on anything else. Content-Length is
// required, and a body shorter than it stores nothing (the store's size check), so a cut
// upload never becomes an entry every later PUT of the hash would be refused to replace.
//
// Race: immutability is checked (stat) before the body is read, so two first PUTs of one
// hash at the same moment can both pass the check; both then store, and the later replaces
// the earlier. Both bodies are Nx's archive of the same task hash, so either is a valid
// record; a reader sees one whole entry or the other, never a mix (puts publish atomically).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { rawKey, type Key } from '../../core/keys.ts';
import type { HttpContext } from '../http/http-context.ts';
import { declaredSize, putEntry } from '../http/put-entry.ts';
import { sendError, sendLookup, sendText } from '../http/respond.ts';
import type { IdPath } from '../http/single-id-route.ts';
import { NX_LENGTH_REQUIRED, NX_READ_WORDING, NX_WRITE_WORDING } from './nx-status.ts';

export const PROTOCOL = 'nx';
/** Raw ids carry their tool's name, so one namespace can hold several tools' keys. */
const ID_PREFIX = 'nx:';
const CONTENT_TYPE = { 'content-type': 'application/octet-stream' } as const;

/** `path.id` is Nx's task hash (decimal as observed, treated as opaque). */
export type NxHandler = (req: IncomingMessage, res: ServerResponse, path: IdPath) => Promise<void>;

export function createNxHandler(ctx: HttpContext): NxHandler {
  return async function handleNx(req, res, path) {
    const key = rawKey(ID_PREFIX + path.id, path.namespace);
    if (req.method === 'PUT') return store(req, res, ctx, key);
    // GET and HEAD (Nx sends no HEAD; answering it costs nothing).
    try {
      await sendLookup(req, res, ctx, PROTOCOL, key, { ...CONTENT_TYPE });
    } catch (err) {
      sendError(req, res, ctx, err, NX_READ_WORDING);
    }
  };
}

async function store(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, key: Key): Promise<void> {
  try {
    if (req.headers['content-length'] === undefined) {
      const refusal = new HoardError(
        ErrorCode.InvalidArgument,
        'a PUT needs Content-Length: the Nx cache stores whole, declared records only',
      );
      return sendError(req, res, ctx, refusal, NX_LENGTH_REQUIRED);
    }
    // Refused before any byte is read: an oversize declaration, or a record that exists.
    const size = declaredSize(req, ctx);
    if ((await ctx.store.stat(key)) !== undefined) {
      sendText(req, res, ctx, 409, 'the record exists; records are immutable');
      return;
    }
    await putEntry(req, res, ctx, PROTOCOL, key, req, size);
  } catch (err) {
    sendError(req, res, ctx, err, NX_WRITE_WORDING);
  }
}
