// A mount point kept for a protocol this server does not speak yet (Turborepo, Nx, Gradle,
// sccache WebDAV): its paths get a clear 501 naming the protocol, instead of being read as
// a Bazel or ccache path with a prefix that happens to look like `v8`.
import type { Protocol } from '../../core/call.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { HttpRoute } from './route-table.ts';

const NAMES: Partial<Record<Protocol, string>> = {
  turborepo: 'the Turborepo remote cache API',
  nx: 'the Nx remote cache API',
  gradle: 'the Gradle HTTP build cache',
  sccache: "sccache's WebDAV",
};

export function reservedRoute(protocol: Protocol, mount: readonly string[]): HttpRoute<true> {
  const message = `${NAMES[protocol] ?? protocol} (mounted at /${mount.join('/')}/) is not served by this version of hoard`;
  return {
    protocol,
    methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PROPFIND', 'MKCOL', 'OPTIONS'],
    mount,
    match: () => true,
    describe() {},
    handle() {
      throw new HoardError(ErrorCode.Unsupported, message);
    },
  };
}
