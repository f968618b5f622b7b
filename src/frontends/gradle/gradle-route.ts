// Gradle's HTTP build cache in the route table: mounted at config.gradleMount (`/gradle/` by
// default), one segment below it, the key. The same mount below a prefix
// (`url = 'http://host/main/gradle/'`) is the prefix's namespace.
import type { Config } from '../../config/schema.ts';
import type { HttpContext } from '../http/http-context.ts';
import type { HttpRoute } from '../http/route-table.ts';
import { singleIdRoute, type IdPath } from '../http/single-id-route.ts';
import { createGradleHandler, PROTOCOL } from './gradle-handler.ts';
import { gradleWording } from './gradle-status.ts';

/** Gradle's keys are 32 or 64 hex; up to 256 characters leaves room for other spellings. */
const MAX_KEY_LENGTH = 256;

export function gradleRoute(ctx: HttpContext, config: Config, mount: readonly string[]): HttpRoute<IdPath> {
  return singleIdRoute({
    protocol: PROTOCOL,
    mount,
    httpPrefix: config.httpPrefix,
    maxIdLength: MAX_KEY_LENGTH,
    idName: 'key',
    wording: gradleWording,
    handle: createGradleHandler(ctx),
  });
}
