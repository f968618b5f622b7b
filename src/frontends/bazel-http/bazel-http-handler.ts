// Bazel's HTTP remote cache protocol (protocols.md §1): GET/HEAD/PUT on
// `<prefix>/ac/<sha256>` and `<prefix>/cas/<sha256>`. Status codes are exactly the ones
// Bazel understands: hit 200, miss 404, PUT success 200 and nothing else, bad input 400
// with a short text body, too large 413, store full 507 (via the one status table).
//
// CAS PUT bodies stream into the store, which hashes and size-checks them on the way in
// and publishes only a whole, verified, durable blob (rule 1); the 200 is sent only after
// that (rule 3). AC PUT bodies must decode as an ActionResult unless the AC is raw (ccache
// layout=bazel writes its own bytes there). AC GETs answer a hit only when every blob the
// result references is present (rule 6).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeActionResult } from '../../core/action-result.ts';
import { checkHash } from '../../core/digest.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { acKey, casKey, type Key } from '../../core/keys.ts';
import { receive } from '../../core/receive.ts';
import { getCompleteActionResult } from '../../storage/action-cache.ts';
import type { Body } from '../../storage/store.ts';
import type { HttpContext } from '../http/http-context.ts';
import { resolveRangeHeader } from '../http/range-header.ts';
import { declaredSize, putEntry } from '../http/put-entry.ts';
import { countHit, sendBytes, sendEntry, sendError, sendLookup, sendMiss, sendText } from '../http/respond.ts';

export const PROTOCOL = 'http';
const ALLOW = 'GET, HEAD, PUT';
/** ActionResults are small messages; a larger AC body is refused before buffering it. */
const MAX_ACTION_RESULT_BYTES = 16 * 1024 * 1024;

export interface BazelHttpOptions {
  /** 'namespace': the URL prefix before ac/ or cas/ separates instances; 'ignore': one store. */
  readonly httpPrefix: 'namespace' | 'ignore';
  /** 'raw': accept and return any AC bytes, without completeness checks. */
  readonly acMode: 'validate' | 'raw';
  /** URL prefixes (no slashes at either end) whose AC entries are raw, e.g. a ccache prefix. */
  readonly rawAcPrefixes: readonly string[];
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
  const rawPrefixes = new Set(options.rawAcPrefixes);
  const { store } = ctx;

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
    let body: Body = req;
    if (key.keyspace === 'ac' && !raw) {
      if (size > MAX_ACTION_RESULT_BYTES) {
        throw new HoardError(
          ErrorCode.TooLarge,
          `an ActionResult of ${size} bytes exceeds ${MAX_ACTION_RESULT_BYTES} bytes`,
        );
      }
      body = await readSmallBody(req, size);
      decodeActionResult(body);
    }
    await putEntry(req, res, ctx, PROTOCOL, key, body, size);
  }

  async function getCas(req: IncomingMessage, res: ServerResponse, key: Key): Promise<void> {
    const range = req.headers.range;
    if (range !== undefined && req.method === 'GET') {
      const size = await store.stat(key);
      if (size === undefined) return sendMiss(req, res, ctx, PROTOCOL, 'cas');
      const r = resolveRangeHeader(range, size);
      if (r.kind === 'unsatisfiable') {
        sendText(req, res, ctx, 416, `out_of_range: the entry has ${size} bytes`, {
          'content-range': `bytes */${size}`,
        });
        return;
      }
      if (r.kind === 'partial') {
        const length = r.end - r.start + 1;
        const part = await store.get(key, { offset: r.start, limit: length });
        if (part === undefined) return sendMiss(req, res, ctx, PROTOCOL, 'cas');
        countHit(req, ctx, PROTOCOL, 'cas', length);
        const headers = {
          'content-type': 'application/octet-stream',
          'accept-ranges': 'bytes',
          'content-range': `bytes ${r.start}-${r.end}/${size}`,
        };
        return sendEntry(req, res, ctx, 206, part, length, headers);
      }
    }
    await sendLookup(req, res, ctx, PROTOCOL, 'cas', key, {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
    });
  }

  async function getAc(req: IncomingMessage, res: ServerResponse, key: Key, raw: boolean): Promise<void> {
    if (raw) return sendLookup(req, res, ctx, PROTOCOL, 'ac', key, { 'content-type': 'application/octet-stream' });
    const bytes = options.acCompleteness
      ? await getCompleteActionResult(store, key.id, { namespace: key.namespace })
      : await store.getBytes(key);
    if (bytes === undefined) return sendMiss(req, res, ctx, PROTOCOL, 'ac');
    countHit(req, ctx, PROTOCOL, 'ac', bytes.byteLength);
    sendBytes(req, res, ctx, bytes, { 'content-type': 'application/octet-stream' });
  }

  return async function handleBazelHttp(req, res, path) {
    try {
      const method = req.method;
      if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') {
        sendText(req, res, ctx, 405, `method ${method} is not allowed here; use ${ALLOW}`, { allow: ALLOW });
        return;
      }
      checkHash(path.hash);
      const namespace = options.httpPrefix === 'ignore' ? '' : path.prefix;
      const raw = path.keyspace === 'ac' && (options.acMode === 'raw' || rawPrefixes.has(path.prefix));
      const key = path.keyspace === 'cas' ? casKey(path.hash, namespace) : acKey(path.hash, namespace);
      if (method === 'PUT') await put(req, res, key, raw);
      else if (path.keyspace === 'cas') await getCas(req, res, key);
      else await getAc(req, res, key, raw);
    } catch (err) {
      sendError(req, res, ctx, PROTOCOL, err);
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
