// Operator endpoints on the HTTP listener: /metrics (Prometheus text), /healthz (the
// process answers), /readyz (it should get traffic: not while draining), /status (JSON:
// version, uptime, store usage, hit rate). They are exact paths, so they never collide
// with cache paths, which always end in ac/<hash>, cas/<hash> or a ccache key.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../metrics/metrics.ts';
import type { StoreUsage } from '../storage/store.ts';

export interface AdminState {
  readonly version: string;
  readonly startedAt: Date;
  readonly metrics: Metrics;
  usage(): StoreUsage;
  isDraining(): boolean;
  listeners(): { http?: string; grpc?: string };
  readonly storeDir: string;
}

export const ADMIN_PATHS = new Set(['/metrics', '/healthz', '/readyz', '/status']);

/** The admin path `target` names (query dropped), or undefined. */
export function adminPath(target: string): string | undefined {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return ADMIN_PATHS.has(path) ? path : undefined;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, close: boolean): void {
  const headers: Record<string, string | number> = { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' };
  if (close) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, state: AdminState, close: boolean): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(req, res, 405, 'text/plain; charset=utf-8', `method ${req.method} is not allowed here; use GET, HEAD\n`, close);
    return;
  }
  switch (path) {
    case '/healthz':
      return send(req, res, 200, 'text/plain; charset=utf-8', 'ok\n', close);
    case '/readyz':
      return state.isDraining()
        ? send(req, res, 503, 'text/plain; charset=utf-8', 'draining\n', close)
        : send(req, res, 200, 'text/plain; charset=utf-8', 'ready\n', close);
    case '/metrics':
      return send(req, res, 200, state.metrics.contentType, await state.metrics.render(), close);
    case '/status':
      return send(req, res, 200, 'application/json', `${JSON.stringify(status(state), null, 2)}\n`, close);
  }
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
    store: { dir: state.storeDir, ...state.usage() },
    lookups: { hits, misses, hitRate: lookups === 0 ? null : hits / lookups },
  };
}
