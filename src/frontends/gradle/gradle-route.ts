// Gradle's HTTP build cache in the route table: mounted at config.gradleMount (`/gradle/` by
// default), one segment below it, the key. The same mount below a prefix
// (`url = 'http://host/main/gradle/'`) is the prefix's namespace.
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import type { Config } from '../../config/schema.ts';
import type { Call } from '../../core/call.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { ErrorWording } from '../http/respond.ts';
import type { HttpRoute } from '../http/route-table.ts';
import { createGradleHandler, PROTOCOL, type GradlePath } from './gradle-handler.ts';
import { gradleWording } from './gradle-status.ts';

/** Gradle keys are hex; any word-like id is accepted, nothing that could be a path. */
const KEY = /^[A-Za-z0-9_-]{1,256}$/;

/** `wording` words the errors thrown before `handle` (access refusals) as the handler would. */
export function gradleRoute(
  ctx: HttpContext,
  config: Config,
  mount: readonly string[],
): HttpRoute<GradlePath> & { readonly wording: (call: Call) => ErrorWording } {
  const handle = createGradleHandler(ctx);
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD', 'PUT'],
    mount,
    match(segments, prefix) {
      const key = segments.length === 1 ? segments[0]! : undefined;
      if (key !== undefined && KEY.test(key))
        return { key, namespace: namespaceOfHttpPrefix(config.httpPrefix, prefix.join('/')) };
      // At the root the mount is Gradle's: say what is wrong. Below a prefix, leave it to others.
      if (prefix.length > 0) return undefined;
      throw new HoardError(
        ErrorCode.InvalidArgument,
        `not a Gradle build cache path; expected /${mount.join('/')}/<key> (key: 1-256 of A-Z a-z 0-9 _ -)`,
      );
    },
    describe(call, path) {
      call.namespace = path.namespace;
      call.access = call.operation === 'PUT' ? 'write' : 'read';
    },
    handle: (req, res, path) => handle(req, res, path),
    wording: gradleWording,
  };
}
