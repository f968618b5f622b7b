// Operator endpoints on the HTTP listener: /metrics (Prometheus text), /healthz (the
// process answers), /readyz (it should get traffic: not while draining), /status (JSON:
// version, uptime, store usage, traffic and hit rates; `?history` adds the last hour). They are exact paths, so they never collide
// with cache paths, which always end in ac/<hash>, cas/<hash> or a ccache key.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HttpContext } from '../frontends/http/http-context.ts';
import { writeHead } from '../frontends/http/respond.ts';
import type { HttpRoute } from '../frontends/http/route-table.ts';

/** What the operator endpoints report; with request threads, the whole server's figures. */
export interface AdminState {
  /** True while this listener drains: /readyz answers 503. */
  isDraining(): boolean;
  /** Content type of `metrics()`'s text. */
  readonly metricsContentType: string;
  /** Prometheus text of every series the server has (every request thread's and the store's). */
  metrics(): Promise<string>;
  /** The /status document (status-document.ts), with the status page's history when asked. */
  status(history: boolean): Promise<object>;
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
    async handle(req, res, path, query) {
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
          // The history is for the status page's scripts: compact, not indented.
          return query.has('history')
            ? send(req, res, ctx, 200, 'application/json', JSON.stringify(await state.status(true)))
            : send(req, res, ctx, 200, 'application/json', `${JSON.stringify(await state.status(false), null, 2)}\n`);
      }
    },
  };
}
