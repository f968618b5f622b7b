// A mounted route whose paths are one opaque id below the mount (Nx's `/v1/cache/<hash>`,
// Gradle's `/gradle/<key>`), GET, HEAD and PUT. The same mount below a prefix
// (`/main/gradle/<key>`) is the prefix's namespace; there a path that is not an id is left to
// the other routes, while at the root the mount is this protocol's and says what is wrong.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { namespaceOfHttpPrefix, type HttpPrefixMode } from '../../cache/namespaces.ts';
import type { Call, Protocol } from '../../core/call.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { isOpaqueId, opaqueIdRule } from './opaque-id.ts';
import type { ErrorWording } from './respond.ts';
import type { HttpRoute } from './route-table.ts';

export interface IdPath {
  /** The tool's own id of the entry, opaque to hoard. */
  readonly id: string;
  readonly namespace: string;
}

export interface SingleIdRouteOptions {
  readonly protocol: Protocol;
  readonly mount: readonly string[];
  readonly httpPrefix: HttpPrefixMode;
  readonly maxIdLength: number;
  /** What the id is called, for a 400's message ("hash", "key"). */
  readonly idName: string;
  /** How the protocol words errors, also the access refusals answered before `handle`. */
  readonly wording: (call: Call) => ErrorWording;
  readonly handle: (req: IncomingMessage, res: ServerResponse, path: IdPath) => Promise<void>;
}

export function singleIdRoute(options: SingleIdRouteOptions): HttpRoute<IdPath> {
  const { protocol, mount, httpPrefix, maxIdLength, idName, handle } = options;
  return {
    protocol,
    methods: ['GET', 'HEAD', 'PUT'],
    mount,
    match(segments, prefix) {
      const id = segments.length === 1 ? segments[0]! : undefined;
      if (id !== undefined && isOpaqueId(id, maxIdLength))
        return { id, namespace: namespaceOfHttpPrefix(httpPrefix, prefix.join('/')) };
      if (prefix.length > 0) return undefined;
      throw new HoardError(
        ErrorCode.InvalidArgument,
        `not a path of the ${protocol} cache; expected /${mount.join('/')}/<${idName}> (${idName}: ${opaqueIdRule(maxIdLength)})`,
      );
    },
    describe(call, path) {
      call.namespace = path.namespace;
      call.access = call.operation === 'PUT' ? 'write' : 'read';
    },
    wording: options.wording,
    handle: (req, res, path) => handle(req, res, path),
  };
}
