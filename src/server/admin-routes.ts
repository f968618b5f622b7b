// Operator endpoints on the HTTP listener: /metrics (Prometheus text), /healthz (the
// process answers), /readyz (it should get traffic: not while draining), /status (JSON:
// version, uptime, store usage, hit rate). They are exact paths, so they never collide
// with cache paths, which always end in ac/<hash>, cas/<hash> or a ccache key.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HttpContext } from '../frontends/http/http-context.ts';
import { writeHead } from '../frontends/http/respond.ts';
import type { HttpRoute } from '../frontends/http/route-table.ts';
import type { LookupCounts, LookupTotals } from '../metrics/metrics.ts';
import type { StoreUsage } from '../storage/store.ts';
import { tiersOf } from '../storage/tier.ts';

/** What the operator endpoints report; with request threads, the whole server's figures. */
export interface AdminState {
  /** True while this listener drains: /readyz answers 503. */
  isDraining(): boolean;
  /** Content type of `metrics()`'s text. */
  readonly metricsContentType: string;
  /** Prometheus text of every series the server has (every request thread's and the store's). */
  metrics(): Promise<string>;
  /** The /status document (statusDocument below). */
  status(): Promise<object>;
}

/** The facts /status reports. */
export interface StatusFacts {
  readonly version: string;
  readonly startedAt: Date;
  readonly draining: boolean;
  readonly listeners: { http?: string; grpc?: string };
  /** Threads serving requests (1: the main thread itself). */
  readonly workers: number;
  readonly storeDir: string;
  readonly usage: StoreUsage;
  readonly lookups: LookupTotals;
}

export const PROTOCOL = 'admin';
const ADMIN_PATHS = new Set(['metrics', 'healthz', 'readyz', 'status']);

/**
 * Admin bodies go out whole (writeHead, not sendText: /metrics can exceed sendText's cap);
 * writeHead decides the connection's fate like every other response (rule 4).
 */
function send(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  status: number,
  type: string,
  body: string,
  extra?: OutgoingHttpHeaders,
): void {
  writeHead(req, res, ctx, status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The operator endpoints as a shaped route: exactly `/metrics`, `/healthz`, `/readyz` or
 * `/status` (a one-segment path, which no cache path is), declared before the cache routes.
 */
export function adminRoute(ctx: HttpContext, state: AdminState, publicMetrics = false): HttpRoute<string> {
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD'],
    match: (segments) => (segments.length === 1 && ADMIN_PATHS.has(segments[0]!) ? segments[0] : undefined),
    // Health checks answer anyone (load balancers carry no credentials); /status needs the
    // admin scope, and /metrics too unless --public-metrics.
    describe(call, path) {
      call.access = path === 'status' || (path === 'metrics' && !publicMetrics) ? 'admin' : 'none';
    },
    async handle(req, res, path) {
      switch (path) {
        case 'healthz':
          return send(req, res, ctx, 200, 'text/plain; charset=utf-8', 'ok\n');
        case 'readyz':
          return state.isDraining()
            ? send(req, res, ctx, 503, 'text/plain; charset=utf-8', 'draining\n')
            : send(req, res, ctx, 200, 'text/plain; charset=utf-8', 'ready\n');
        case 'metrics':
          return send(req, res, ctx, 200, state.metricsContentType, await state.metrics());
        default:
          return send(req, res, ctx, 200, 'application/json', `${JSON.stringify(await state.status(), null, 2)}\n`);
      }
    },
  };
}

export function statusDocument(facts: StatusFacts): object {
  const { hits, misses, protocols } = facts.lookups;
  return {
    name: 'hoard',
    version: facts.version,
    startedAt: facts.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - facts.startedAt.getTime()) / 1000),
    draining: facts.draining,
    listeners: facts.listeners,
    workers: facts.workers,
    // The stack's figures (its front tier's, with the bounded list per namespace when the
    // store counts them), then every tier's own, front first.
    store: { dir: facts.storeDir, ...facts.usage, tiers: tiersOf(facts.usage) },
    lookups: {
      ...withHitRate({ hits, misses }),
      protocols: Object.fromEntries(Object.entries(protocols).map(([p, counts]) => [p, withHitRate(counts)])),
    },
  };
}

function withHitRate({ hits, misses }: LookupCounts): { hits: number; misses: number; hitRate: number | null } {
  const lookups = hits + misses;
  return { hits, misses, hitRate: lookups === 0 ? null : hits / lookups };
}
