// The HTTP route table: each frontend declares its routes (protocol, methods, where it is
// mounted, how it reads a path), and the table alone decides which one a request goes to.
//
// Two kinds of route. A mounted route (Turborepo under /v8/, Nx under /v1/cache/ ...) owns
// every path under its mount at the root; the longest mount that fits wins. The same mount
// below a prefix (`/main/v8/artifacts/<hash>`) is that protocol with the prefix as its
// namespace, but only for a path the route recognises: a Bazel prefix that happens to
// contain `v8` stays Bazel's. The mount found earliest in the path wins. A shaped route is
// found by the shape of the path's last segments, below any prefix (Bazel's
// `<prefix>/ac/<hash>`, ccache's keys), because for those protocols the prefix is the
// namespace; shaped routes are asked in the order they are declared, after the mounted ones.
// A path a route claims with a method it does not serve gets 405 with `Allow`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Call, Protocol } from '../../core/call.ts';
import type { ErrorWording } from './respond.ts';

export interface HttpRoute<P = unknown> {
  readonly protocol: Protocol;
  /** The methods it answers; any other gets 405 with these in `Allow`. */
  readonly methods: readonly string[];
  /** Path segments a request must start with; undefined for a shaped route. */
  readonly mount?: readonly string[];
  /**
   * Reads the path (below the mount, for a mounted route; `prefix` is then what came before
   * the mount, empty at the root): its parameters, or undefined when the path is not this
   * route's. May throw InvalidArgument for a path that is this route's but malformed.
   */
  match(segments: readonly string[], prefix: readonly string[]): P | undefined;
  /** Completes the call's description from the parameters and query (namespace, access) before admission. */
  describe(call: Call, params: P, query: URLSearchParams): void;
  /**
   * How this protocol words a refusal of the call chain (401, 403) before `handle` runs;
   * the shared table when absent. `handle` words its own errors.
   */
  readonly wording?: (call: Call) => ErrorWording;
  /** Answers the request. Owns the response from here on; a throw is answered by the caller. */
  handle(req: IncomingMessage, res: ServerResponse, params: P, query: URLSearchParams): Promise<void>;
}

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: HttpRoute; readonly params: unknown; readonly allowed: boolean }
  | { readonly kind: 'none' };

const NONE: RouteMatch = { kind: 'none' };

export class RouteTable {
  readonly #mounted: readonly HttpRoute[];
  readonly #shaped: readonly HttpRoute[];
  readonly #allow = new Map<HttpRoute, string>();

  constructor(routes: readonly HttpRoute[]) {
    const all = routes;
    const mounts = new Set<string>();
    for (const r of all) {
      if (r.mount === undefined) continue;
      if (r.mount.length === 0) throw new Error(`${r.protocol}: a mount needs at least one path segment`);
      const at = `/${r.mount.join('/')}/`;
      if (mounts.has(at)) throw new Error(`two routes are mounted at ${at}`);
      mounts.add(at);
    }
    this.#mounted = all.filter((r) => r.mount !== undefined).sort((a, b) => b.mount!.length - a.mount!.length);
    this.#shaped = all.filter((r) => r.mount === undefined);
    for (const r of all) this.#allow.set(r, r.methods.join(', '));
  }

  /** The route for a request's path segments and method. */
  find(segments: readonly string[], method: string): RouteMatch {
    for (let at = 0; at < segments.length; at++) {
      for (const route of this.#mounted) {
        const mount = route.mount!;
        if (!fitsAt(segments, mount, at)) continue;
        const params = route.match(segments.slice(at + mount.length), segments.slice(0, at));
        if (params !== undefined) return { kind: 'route', route, params, allowed: route.methods.includes(method) };
        // At the root a mount owns its paths; below a prefix it only claims what it recognises.
        if (at === 0) return NONE;
      }
    }
    for (const route of this.#shaped) {
      const params = route.match(segments, NO_PREFIX);
      if (params !== undefined) return { kind: 'route', route, params, allowed: route.methods.includes(method) };
    }
    return NONE;
  }

  /** The `Allow` header value of a route. */
  allow(route: HttpRoute): string {
    return this.#allow.get(route) ?? '';
  }

  /** Where each mounted protocol lives, for messages and docs: `/v8/` and so on. */
  mounts(): { protocol: Protocol; path: string }[] {
    return this.#mounted.map((r) => ({ protocol: r.protocol, path: `/${r.mount!.join('/')}/` }));
  }
}

const NO_PREFIX: readonly string[] = [];

function fitsAt(segments: readonly string[], mount: readonly string[], at: number): boolean {
  if (segments.length < at + mount.length) return false;
  for (let i = 0; i < mount.length; i++) if (segments[at + i] !== mount[i]) return false;
  return true;
}

/** The query of a request target; one shared empty instance when there is none (treat as read-only). */
export function queryOf(target: string): URLSearchParams {
  const q = target.indexOf('?');
  return q === -1 ? NO_QUERY : new URLSearchParams(target.slice(q + 1));
}

const NO_QUERY = new URLSearchParams();
