// The PUT path shared by the HTTP frontends: the declared size checked against the entry
// bound before any byte is read, the body handed to the store with that bound (a chunked
// body has no declared size: it fails at its first byte over), and the 200 written only
// after the store has published the entry (rule 3). Any failure is thrown to the caller's
// sendError; the store has published nothing (rule 1).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import type { Protocol } from '../../metrics/metrics.ts';
import type { Body } from '../../storage/store.ts';
import type { HttpContext } from './http-context.ts';
import { sendEmpty } from './respond.ts';

/**
 * The request's Content-Length, undefined when it has none (chunked). Throws TooLarge when
 * it exceeds the entry bound, so an oversize upload is refused before it is received.
 */
export function declaredSize(req: IncomingMessage, ctx: HttpContext): number | undefined {
  const declared = req.headers['content-length'];
  if (declared === undefined) return undefined;
  const size = Number(declared);
  if (ctx.maxEntryBytes > 0 && size > ctx.maxEntryBytes) {
    throw new HoardError(ErrorCode.TooLarge, `entry of ${size} bytes exceeds the limit of ${ctx.maxEntryBytes} bytes`);
  }
  return size;
}

/** Stores `body` under `key` (`size` as declared, if any), counts it, then answers 200. */
export async function putEntry(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  protocol: Protocol,
  key: Key,
  body: Body,
  size: number | undefined,
): Promise<void> {
  await ctx.store.put(key, body, {
    size,
    maxBytes: ctx.maxEntryBytes > 0 ? ctx.maxEntryBytes : undefined,
    // The request's own reads: nothing looks at them once they are handed over.
    handsOverChunks: body === req,
  });
  if (size !== undefined) ctx.metrics.bytesReceived(protocol, size);
  sendEmpty(req, res, ctx, 200);
}
