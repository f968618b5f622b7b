// ccache's HTTP remote storage in the route table: a shaped route for its key shapes below
// any prefix (the namespace). Declared before Bazel's: its keys never fit a Bazel hash,
// and matchCcachePath leaves 40 hex right under ac/ or cas/ to Bazel.
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { HttpRoute } from '../http/route-table.ts';
import {
  createCcacheHttpHandler,
  matchCcachePath,
  PROTOCOL,
  type CcacheHttpOptions,
  type CcachePath,
} from './ccache-http-handler.ts';

export function ccacheHttpRoute(ctx: HttpContext, options: CcacheHttpOptions): HttpRoute<CcachePath> {
  const handle = createCcacheHttpHandler(ctx, options);
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD', 'PUT', 'DELETE'],
    match: matchCcachePath,
    describe(call, path) {
      call.namespace = namespaceOfHttpPrefix(options.httpPrefix, path.prefix);
      call.access = call.operation === 'GET' || call.operation === 'HEAD' ? 'read' : 'write';
    },
    handle: (req, res, path) => handle(req, res, path),
  };
}
