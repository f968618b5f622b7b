// ccache's built-in HTTP remote storage (docs/PROTOCOLS.md §3) on the same listener as Bazel:
// GET/HEAD/PUT/DELETE on `<prefix>/<2>/<rest>` (layout=subdirs, the default) or
// `<prefix>/<key>` (layout=flat). Both name the same ccache key, so the two layouts share
// entries. ccache keys are not content digests: they live in the raw
// keyspace, unverified, namespaced by the prefix like Bazel's. Any 2xx is success to
// ccache; a miss is a 404, which ccache does not count as an error.
//
// layout=bazel (`<prefix>/ac/<64 hex>`) goes through the Bazel frontend: its bytes are not
// ActionResults, so the server needs `--ac-mode raw` or the prefix in `--raw-ac-prefixes`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import { rawKey } from '../../core/keys.ts';
import type { HttpContext } from '../http/http-context.ts';
import { declaredSize, putEntry } from '../http/put-entry.ts';
import { sendEmpty, sendError, sendLookup, sendText } from '../http/respond.ts';

export const PROTOCOL = 'ccache';
// ccache up to 4.x (Debian 12 ships 4.7.5) writes its 20-byte key as 2 hex digits followed by
// 31 base32hex digits ([0-9a-v]), e.g. `b8/ccdnf7fsrpja0bqg6js8itg2f6j1o4e`, not as 40 hex;
// both spellings are accepted (test/e2e/ccache.test.ts drives the real client).
const FLAT_KEY = /^(?:[0-9a-f]{40}|[0-9a-f]{2}[0-9a-v]{31})$/;
const SUBDIR = /^[0-9a-f]{2}$/;
const SUBDIR_REST = /^(?:[0-9a-f]{38}|[0-9a-v]{31})$/;
/** Raw ids carry their tool's name, so one namespace can hold several tools' keys. */
const ID_PREFIX = 'ccache:';

export interface CcachePath {
  /** The ccache key as ccache spells it (40 hex, or 2 hex + 31 base32hex). */
  readonly key: string;
  readonly prefix: string;
}

export function matchCcachePath(segments: readonly string[]): CcachePath | undefined {
  const n = segments.length;
  const last = segments[n - 1];
  if (last === undefined) return undefined;
  const dir = segments[n - 2];
  // Under ac/ or cas/ a 40-hex last segment is a Bazel path with a SHA-1 digest, which must
  // get Bazel's precise 400, not be stored as unverified ccache bytes: a SHA-1 Bazel client
  // would otherwise get AC hits never checked for completeness (rules 6 and 7).
  if (FLAT_KEY.test(last) && dir !== 'ac' && dir !== 'cas')
    return { key: last, prefix: segments.slice(0, n - 1).join('/') };
  if (dir !== undefined && SUBDIR.test(dir) && SUBDIR_REST.test(last)) {
    return { key: dir + last, prefix: segments.slice(0, n - 2).join('/') };
  }
  return undefined;
}

export interface CcacheHttpOptions {
  readonly httpPrefix: 'namespace' | 'ignore';
}

export type CcacheHttpHandler = (req: IncomingMessage, res: ServerResponse, path: CcachePath) => Promise<void>;

export function createCcacheHttpHandler(ctx: HttpContext, options: CcacheHttpOptions): CcacheHttpHandler {
  return async function handleCcacheHttp(req, res, path) {
    try {
      const key = rawKey(ID_PREFIX + path.key, namespaceOfHttpPrefix(options.httpPrefix, path.prefix));
      switch (req.method) {
        case 'GET':
        case 'HEAD':
          return await sendLookup(req, res, ctx, PROTOCOL, key, { 'content-type': 'application/octet-stream' });
        case 'PUT':
          return await putEntry(req, res, ctx, PROTOCOL, key, req, declaredSize(req, ctx));
        case 'DELETE':
          if (await ctx.store.delete(key)) sendEmpty(req, res, ctx, 200);
          else sendText(req, res, ctx, 404, 'not found');
          return;
        // The route table hands over these four methods only (ccache-http-route.ts).
      }
    } catch (err) {
      sendError(req, res, ctx, err);
    }
  };
}
