// Bazel's HTTP cache in the route table: a shaped route, `<prefix>/ac/<x>` and
// `<prefix>/cas/<x>` below any prefix, the prefix being the namespace.
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { HttpRoute } from '../http/route-table.ts';
import {
  createBazelHttpHandler,
  matchBazelPath,
  PROTOCOL,
  type BazelHttpOptions,
  type BazelPath,
} from './bazel-http-handler.ts';

export function bazelHttpRoute(ctx: HttpContext, options: BazelHttpOptions): HttpRoute<BazelPath> {
  const handle = createBazelHttpHandler(ctx, options);
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD', 'PUT'],
    match: matchBazelPath,
    describe(call, path) {
      call.namespace = namespaceOfHttpPrefix(options.httpPrefix, path.prefix);
      call.access = call.operation === 'PUT' ? 'write' : 'read';
    },
    handle: (req, res, path) => handle(req, res, path),
  };
}
