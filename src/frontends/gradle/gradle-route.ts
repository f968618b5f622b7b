// Placeholder until the frontend lands: the mount answers 501 naming the protocol.
import type { Config } from '../../config/schema.ts';
import type { HttpContext } from '../http/http-context.ts';
import { reservedRoute } from '../http/reserved-route.ts';
import type { HttpRoute } from '../http/route-table.ts';

export function gradleRoute(_ctx: HttpContext, _config: Config, mount: readonly string[]): HttpRoute<true> {
  return reservedRoute('gradle', mount);
}
