// The Nx remote cache in the route table: mounted at config.nxMount (`/v1/cache/` by
// default), one segment below it, the hash. The same mount below a prefix
// (`/main/v1/cache/<hash>`, from NX_SELF_HOSTED_REMOTE_CACHE_SERVER=http://host/main) is the
// prefix's namespace.
import type { Config } from '../../config/schema.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { HttpRoute } from '../http/route-table.ts';
import { singleIdRoute, type IdPath } from '../http/single-id-route.ts';
import { createNxHandler, PROTOCOL } from './nx-handler.ts';
import { nxWording } from './nx-status.ts';

/** Nx's hashes are decimal today; up to 128 characters leaves room for other spellings. */
const MAX_HASH_LENGTH = 128;

export function nxRoute(ctx: HttpContext, config: Config, mount: readonly string[]): HttpRoute<IdPath> {
  return singleIdRoute({
    protocol: PROTOCOL,
    mount,
    httpPrefix: config.httpPrefix,
    maxIdLength: MAX_HASH_LENGTH,
    idName: 'hash',
    wording: nxWording,
    handle: createNxHandler(ctx),
  });
}
