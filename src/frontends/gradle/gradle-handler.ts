// Gradle's HTTP build cache: `GET` and `PUT <url>/<key>`, `<url>` ending in the mount
// (`http://host/gradle/`, or `http://host/<namespace>/gradle/`). The key is Gradle's build
// cache key (hex); the body is Gradle's packed task outputs, opaque to us: it lives in the
// raw keyspace under `gradle:<key>`, and a PUT replaces (Gradle stores an entry only after a
// load missed, and any 2xx is success to it).
//
// A store's declared length is checked before any byte is read, and with `Expect:
// 100-continue` (Gradle 7.2+ `useExpectContinue`) the listener sends the 100 only when the
// body starts to be read: an oversize entry is refused before the client sends it. A body without a
// declared length is bounded as it arrives (413 at the first byte over --max-blob-size).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { rawKey } from '../../core/keys.ts';
import type { HttpContext } from '../http/http-context.ts';
import { declaredSize, putEntry } from '../http/put-entry.ts';
import { sendError, sendLookup } from '../http/respond.ts';
import type { IdPath } from '../http/single-id-route.ts';
import { GRADLE_READ_WORDING, GRADLE_WRITE_WORDING } from './gradle-status.ts';

export const PROTOCOL = 'gradle';
/** Raw ids carry their tool's name, so one namespace can hold several tools' keys. */
const ID_PREFIX = 'gradle:';
const CONTENT_TYPE = { 'content-type': 'application/octet-stream' } as const;

/** `path.id` is Gradle's build cache key. */
export type GradleHandler = (req: IncomingMessage, res: ServerResponse, path: IdPath) => Promise<void>;

export function createGradleHandler(ctx: HttpContext): GradleHandler {
  return async function handleGradle(req, res, path) {
    const key = rawKey(ID_PREFIX + path.id, path.namespace);
    if (req.method === 'PUT') {
      try {
        await putEntry(req, res, ctx, PROTOCOL, key, req, declaredSize(req, ctx));
      } catch (err) {
        sendError(req, res, ctx, err, GRADLE_WRITE_WORDING);
      }
      return;
    }
    // GET and HEAD (Gradle sends no HEAD; answering it costs nothing).
    try {
      await sendLookup(req, res, ctx, PROTOCOL, key, { ...CONTENT_TYPE });
    } catch (err) {
      sendError(req, res, ctx, err, GRADLE_READ_WORDING);
    }
  };
}
