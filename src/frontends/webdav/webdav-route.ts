// sccache's WebDAV in the route table: mounted at --sccache-mount (`/sccache/` by default);
// every path below the mount is a WebDAV resource, and the URL prefix before the mount is
// the namespace (`/team-a/sccache/...`). Reads (GET, HEAD, PROPFIND, OPTIONS) need read
// access to it, changes (PUT, DELETE, MKCOL) write access.
import type { Config } from '../../config/schema.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { HttpRoute } from '../http/route-table.ts';
import { createWebdavHandler, METHODS, PROTOCOL } from './webdav-handler.ts';
import { davPath, type DavPath } from './webdav-path.ts';

const READS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PROPFIND', 'OPTIONS']);

export function webdavRoute(ctx: HttpContext, config: Config, mount: readonly string[]): HttpRoute<DavPath> {
  const handle = createWebdavHandler(ctx);
  return {
    protocol: PROTOCOL,
    methods: METHODS,
    mount,
    match: (segments, prefix) => davPath(config.httpPrefix, mount, segments, prefix),
    describe(call, at) {
      call.namespace = at.namespace;
      call.access = READS.has(call.operation) ? 'read' : 'write';
    },
    handle: (req, res, at) => handle(req, res, at),
  };
}
