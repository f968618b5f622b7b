// Operator endpoints on the HTTP listener: /metrics (Prometheus text), /healthz (the
// process answers), /readyz (it should get traffic: not while draining), /status (JSON:
// version, uptime, store usage, hit rate). They are exact paths, so they never collide
// with cache paths, which always end in ac/<hash>, cas/<hash> or a ccache key.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HttpContext } from '../frontends/http/http-context.ts';
import { writeHead } from '../frontends/http/respond.ts';
import type { HttpRoute } from '../frontends/http/route-table.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { StoreUsage } from '../storage/store.ts';
import { tiersOf } from '../storage/tier.ts';

export interface AdminState {
  readonly version: string;
  readonly startedAt: Date;
  readonly metrics: Metrics;
  usage(): StoreUsage;
  isDraining(): boolean;
  listeners(): { http?: string; grpc?: string };
  readonly storeDir: string;
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
export function adminRoute(ctx: HttpContext, state: AdminState): HttpRoute<string> {
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD'],
    match: (segments) => (segments.length === 1 && ADMIN_PATHS.has(segments[0]!) ? segments[0] : undefined),
    describe(call) {
      call.access = 'admin';
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
          return send(req, res, ctx, 200, state.metrics.contentType, await state.metrics.render());
        default:
          return send(req, res, ctx, 200, 'application/json', `${JSON.stringify(status(state), null, 2)}\n`);
      }
    },
  };
}

function status(state: AdminState): object {
  const { hits, misses } = state.metrics.lookupTotals();
  const lookups = hits + misses;
  return {
    name: 'hoard',
    version: state.version,
    startedAt: state.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - state.startedAt.getTime()) / 1000),
    draining: state.isDraining(),
    listeners: state.listeners(),
    store: storeStatus(state),
    lookups: { hits, misses, hitRate: lookups === 0 ? null : hits / lookups },
  };
}

/** The stack's figures (its front tier's), then every tier's own, front first. */
function storeStatus(state: AdminState): object {
  const usage = state.usage();
  return { dir: state.storeDir, ...usage, tiers: tiersOf(usage) };
}
