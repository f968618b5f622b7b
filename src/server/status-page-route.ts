// The live status page: one HTML page at --status-page (default `/`), its script and style,
// and uPlot's, all served by hoard itself so the page works with no network beyond the
// server (no CDN). The page needs the admin scope, as /status does; its four assets are
// public, because they hold no figure (the script reads /status with the browser's
// credentials). Asset names are single path segments, which no cache path is.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { HttpContext } from '../frontends/http/http-context.ts';
import { writeHead } from '../frontends/http/respond.ts';
import type { HttpRoute } from '../frontends/http/route-table.ts';
import { PROTOCOL } from './admin-routes.ts';

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

/** The page's own files, beside src/ (or dist/) in the checkout and in the package. */
const PAGE_DIR = new URL('../../status-page/', import.meta.url);
const require = createRequire(import.meta.url);

/** Asset name in the URL → where it comes from. */
const ASSET_FILES: Readonly<Record<string, { readonly type: string; readonly from: () => URL | string }>> = {
  'hoard-status-page.js': { type: 'text/javascript; charset=utf-8', from: () => new URL('status-page.js', PAGE_DIR) },
  'hoard-status-page.css': { type: 'text/css; charset=utf-8', from: () => new URL('status-page.css', PAGE_DIR) },
  'hoard-uplot.js': {
    type: 'text/javascript; charset=utf-8',
    from: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
  },
  'hoard-uplot.css': { type: 'text/css; charset=utf-8', from: () => require.resolve('uplot/dist/uPlot.min.css') },
};

/** Only what the page itself loads: its scripts, styles and /status, from this server. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

type Served = { readonly kind: 'page' } | { readonly kind: 'asset'; readonly name: string };

const loaded = new Map<string, Promise<Asset>>();

/** Read once per process: the files do not change while it runs. */
function load(name: string, type: string, from: () => URL | string): Promise<Asset> {
  let asset = loaded.get(name);
  if (asset === undefined) {
    asset = readFile(from()).then((body) => ({
      type,
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    }));
    // A failed read is retried by the next request, not remembered.
    asset.catch(() => loaded.delete(name));
    loaded.set(name, asset);
  }
  return asset;
}

/**
 * The page's links are relative, so it works behind a proxy that mounts hoard below a path:
 * from the page's own URL, `root` leads back to where /status and the assets are.
 */
export function rootFrom(target: string): string {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const depth = path.split('/').length - 2;
  return depth <= 0 ? './' : '../'.repeat(depth);
}

export function statusPageRoute(ctx: HttpContext, page: readonly string[]): HttpRoute<Served> {
  return {
    protocol: PROTOCOL,
    methods: ['GET', 'HEAD'],
    match(segments) {
      if (segments.length === page.length && segments.every((s, i) => s === page[i])) return { kind: 'page' };
      if (segments.length === 1 && Object.hasOwn(ASSET_FILES, segments[0]!))
        return { kind: 'asset', name: segments[0]! };
      return undefined;
    },
    describe(call, served) {
      call.access = served.kind === 'page' ? 'admin' : 'none';
    },
    async handle(req, res, served) {
      if (served.kind === 'asset') {
        const file = ASSET_FILES[served.name]!;
        return sendAsset(req, res, ctx, await load(served.name, file.type, file.from));
      }
      const html = await load('index.html', 'text/html; charset=utf-8', () => new URL('index.html', PAGE_DIR));
      const body = Buffer.from(html.body.toString('utf8').replaceAll('%ROOT%', rootFrom(req.url ?? '/')));
      writeHead(req, res, ctx, 200, {
        'content-type': html.type,
        'content-length': body.byteLength,
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}

/** An asset, revalidated by its ETag: a new hoard version's page never runs an old script. */
function sendAsset(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, asset: Asset): void {
  const headers = { etag: asset.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
  if (req.headers['if-none-match'] === asset.etag) {
    writeHead(req, res, ctx, 304, headers);
    res.end();
    return;
  }
  writeHead(req, res, ctx, 200, { ...headers, 'content-type': asset.type, 'content-length': asset.body.byteLength });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
