// Bazel's HTTP remote cache protocol (docs/PROTOCOLS.md §1): GET/HEAD/PUT on
// `<prefix>/ac/<sha256>` and `<prefix>/cas/<sha256>`. Status codes are exactly the ones
// Bazel understands: hit 200, miss 404, PUT success 200 and nothing else, bad input 400
// with a short text body, too large 413, store full 507 (via the one status table).
//
// CAS PUT bodies stream into the store, which hashes and size-checks them on the way in
// and publishes only a whole, verified, durable blob (rule 1); the 200 is sent only after
// that (rule 3). The action cache is the cache service's (src/cache): this file decodes AC
// requests onto it and encodes its answers. AC PUT bodies must be valid ActionResults
// unless the AC is raw (ccache layout=bazel writes its own bytes there); AC GETs answer a
// hit only when the service does (rule 6).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkEncodedActionResultSize } from '../../cache/action-result-validation.ts';
import { CacheService } from '../../cache/cache-service.ts';
import { namespaceOfHttpPrefix, type HttpPrefixMode } from '../../cache/namespaces.ts';
import { rawAcMatcher, type RawAcOptions } from '../../cache/raw-ac.ts';
import { checkHash } from '../../core/digest.ts';
import { acKey, casKey, type Key } from '../../core/keys.ts';
import { receive } from '../../core/receive.ts';
import type { HttpContext } from '../http/http-context.ts';
import { sendRangeLookup } from '../http/range-lookup.ts';
import { declaredSize, putEntry } from '../http/put-entry.ts';
import { sendBytes, sendEmpty, sendEntry, sendError, sendText, writeHead } from '../http/respond.ts';

export const PROTOCOL = 'bazel-http';
const AC_HEADERS = { 'content-type': 'application/octet-stream' } as const;

/** `acMode` and `rawAcPrefixes` say which AC entries are raw (src/cache/raw-ac.ts). */
export interface BazelHttpOptions extends RawAcOptions {
  /** 'namespace': the URL prefix before ac/ or cas/ separates instances; 'ignore': one store. */
  readonly httpPrefix: HttpPrefixMode;
  /** Rule 6: an AC hit only when every blob the result references is present. */
  readonly acCompleteness: boolean;
}

export interface BazelPath {
  readonly keyspace: 'ac' | 'cas';
  readonly hash: string;
  /** The segments before ac/ or cas/, joined by '/'; '' when there are none. */
  readonly prefix: string;
}

/** Recognises `<prefix>/ac/<x>` and `<prefix>/cas/<x>`; the hash is checked later (400). */
export function matchBazelPath(segments: readonly string[]): BazelPath | undefined {
  const n = segments.length;
  if (n < 2) return undefined;
  const kind = segments[n - 2];
  if (kind !== 'ac' && kind !== 'cas') return undefined;
  return { keyspace: kind, hash: segments[n - 1]!, prefix: n === 2 ? '' : segments.slice(0, n - 2).join('/') };
}

export type BazelHttpHandler = (req: IncomingMessage, res: ServerResponse, path: BazelPath) => Promise<void>;

export function createBazelHttpHandler(ctx: HttpContext, options: BazelHttpOptions): BazelHttpHandler {
  const isRawAc = rawAcMatcher(options);
  const { store } = ctx;
  const cache = new CacheService({ store, metrics: ctx.metrics, acCompleteness: options.acCompleteness });

  async function put(req: IncomingMessage, res: ServerResponse, key: Key, raw: boolean): Promise<void> {
    const size = declaredSize(req, ctx);
    if (size === undefined) {
      sendText(
        req,
        res,
        ctx,
        411,
        'invalid_argument: a Content-Length header is required (chunked uploads are not part of the protocol)',
      );
      return;
    }
    if (key.keyspace === 'cas') return putEntry(req, res, ctx, PROTOCOL, key, req, size);
    if (raw) {
      const maxBytes = ctx.maxEntryBytes > 0 ? ctx.maxEntryBytes : undefined;
      await cache.putRawActionResult(key.namespace, key.id, req, { size, maxBytes });
    } else {
      checkEncodedActionResultSize(size);
      await cache.putEncodedActionResult(key.namespace, key.id, await readSmallBody(req, size));
    }
    ctx.metrics.bytesReceived(PROTOCOL, size);
    sendEmpty(req, res, ctx, 200); // only now that the store has it (rule 3)
  }

  function getCas(req: IncomingMessage, res: ServerResponse, key: Key): Promise<void> {
    return sendRangeLookup(req, res, ctx, PROTOCOL, key, {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
    });
  }

  /** The cache service counts AC hits and misses; this only counts the bytes it sends. */
  async function getAc(req: IncomingMessage, res: ServerResponse, key: Key, raw: boolean): Promise<void> {
    const lookup = { protocol: PROTOCOL } as const;
    const notFound = (): void => sendText(req, res, ctx, 404, 'not found');
    if (raw && req.method === 'HEAD') {
      const size = await cache.statRawActionResult(key.namespace, key.id, lookup);
      if (size === undefined) return notFound();
      writeHead(req, res, ctx, 200, { ...AC_HEADERS, 'content-length': size });
      res.end();
    } else if (raw) {
      const entry = await cache.getRawActionResult(key.namespace, key.id, lookup);
      if (entry === undefined) return notFound();
      await sendEntry(req, res, ctx, 200, entry, entry.size, { ...AC_HEADERS });
      ctx.metrics.bytesSent(PROTOCOL, entry.size);
    } else {
      const bytes = await cache.getActionResult(key.namespace, key.id, lookup);
      if (bytes === undefined) return notFound();
      sendBytes(req, res, ctx, bytes, { ...AC_HEADERS });
      if (req.method === 'GET') ctx.metrics.bytesSent(PROTOCOL, bytes.byteLength);
    }
  }

  // The route table hands over GET, HEAD and PUT only (bazel-http-route.ts).
  return async function handleBazelHttp(req, res, path) {
    try {
      const method = req.method;
      checkHash(path.hash);
      const namespace = namespaceOfHttpPrefix(options.httpPrefix, path.prefix);
      const raw = path.keyspace === 'ac' && isRawAc(path.prefix);
      const key = path.keyspace === 'cas' ? casKey(path.hash, namespace) : acKey(path.hash, namespace);
      if (method === 'PUT') await put(req, res, key, raw);
      else if (path.keyspace === 'cas') await getCas(req, res, key);
      else await getAc(req, res, key, raw);
    } catch (err) {
      sendError(req, res, ctx, err);
    }
  };
}

/** Reads a body of exactly `size` bytes (fewer or more: SizeMismatch). */
async function readSmallBody(req: IncomingMessage, size: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await receive(req, { size }, (chunk) => {
    chunks.push(chunk);
  });
  return Buffer.concat(chunks, size);
}
