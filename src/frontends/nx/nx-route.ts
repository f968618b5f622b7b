// The Nx remote cache in the route table: mounted at config.nxMount (`/v1/cache/` by
// default), one segment below it, the hash. The same mount below a prefix
// (`/main/v1/cache/<hash>`, from NX_SELF_HOSTED_REMOTE_CACHE_SERVER=http://host/main) is the
// prefix's namespace.
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import type { Config } from '../../config/schema.ts';
import type { Call } from '../../core/call.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { ErrorWording } from '../http/respond.ts';
import type { HttpRoute } from '../http/route-table.ts';
import { createNxHandler, PROTOCOL, type NxPath } from './nx-handler.ts';
import { nxWording } from './nx-status.ts';

/** Nx hashes are decimal today; any short word-like id is accepted, nothing that could be a path. */
const HASH = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * `wording` words the errors thrown before `handle` (access refusals): Nx needs its 401 as
 * exactly text/plain, and a refused or failed store as a status it does not end the run on.
 */
export function nxRoute(
  ctx: HttpContext,
  config: Config,
  mount: readonly string[],
): HttpRoute<NxPath> & { readonly wording: (call: Call) => ErrorWording } {
  const handle = createNxHandler(ctx);
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD', 'PUT'],
    mount,
    match(segments, prefix) {
      const hash = segments.length === 1 ? segments[0]! : undefined;
      if (hash !== undefined && HASH.test(hash))
        return { hash, namespace: namespaceOfHttpPrefix(config.httpPrefix, prefix.join('/')) };
      // At the root the mount is Nx's: say what is wrong. Below a prefix, leave it to others.
      if (prefix.length > 0) return undefined;
      throw new HoardError(
        ErrorCode.InvalidArgument,
        `not an Nx cache path; expected /${mount.join('/')}/<hash> (hash: 1-128 of A-Z a-z 0-9 _ -)`,
      );
    },
    describe(call, path) {
      call.namespace = path.namespace;
      call.access = call.operation === 'PUT' ? 'write' : 'read';
    },
    handle: (req, res, path) => handle(req, res, path),
    wording: nxWording,
  };
}
