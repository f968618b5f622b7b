// GET and HEAD of an entry with `Range` support (RFC 9110 §14), for the protocols whose
// clients resume or read parts: Bazel's CAS downloads and WebDAV. One satisfiable range is
// 206 with Content-Range; a range past the end 416; anything else (no Range, HEAD, a range
// form we do not serve) the whole entry through sendLookup. Hits and misses are counted.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Key } from '../../core/keys.ts';
import type { Protocol } from '../../metrics/metrics.ts';
import type { HttpContext } from './http-context.ts';
import { resolveRangeHeader } from './range-header.ts';
import { countHit, sendEntry, sendLookup, sendMiss, sendText } from './respond.ts';

export async function sendRangeLookup(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  protocol: Protocol,
  key: Key,
  headers: OutgoingHttpHeaders,
): Promise<void> {
  const range = req.headers.range;
  if (range !== undefined && req.method === 'GET') {
    const size = await ctx.store.stat(key);
    if (size === undefined) return sendMiss(req, res, ctx, protocol, key);
    const r = resolveRangeHeader(range, size);
    if (r.kind === 'unsatisfiable') {
      sendText(req, res, ctx, 416, `out_of_range: the entry has ${size} bytes`, { 'content-range': `bytes */${size}` });
      return;
    }
    if (r.kind === 'partial') {
      const length = r.end - r.start + 1;
      const part = await ctx.store.get(key, { offset: r.start, limit: length });
      if (part === undefined) return sendMiss(req, res, ctx, protocol, key);
      countHit(req, ctx, protocol, key, length);
      return sendEntry(req, res, ctx, 206, part, length, {
        ...headers,
        'content-range': `bytes ${r.start}-${r.end}/${size}`,
      });
    }
  }
  await sendLookup(req, res, ctx, protocol, key, { ...headers });
}
