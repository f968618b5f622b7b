// The Turborepo calls that carry a small JSON body: `POST /v8/artifacts`, the batch
// existence query (`{"hashes":[...]}` answered with each hash's size, duration and tag, or
// null), and `POST /v8/artifacts/events`, the hits and misses turbo reports. Their bodies
// are read whole, so they are bounded: a declared length over the bound is refused before
// the body, a chunked one at the first byte over it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { causeOf, ErrorCode, HoardError, toHoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import { callOf } from '../http/http-call.ts';
import type { HttpContext } from '../http/http-context.ts';
import { countHit, sendEmpty, writeHead } from '../http/respond.ts';
import { PROTOCOL, statArtifact } from './artifact-handler.ts';

/** Largest query or events body: thousands of hashes or events. */
export const MAX_JSON_BODY = 256 * 1024;
/** Most hashes one query may ask about. */
export const MAX_QUERY_HASHES = 4096;
/** Lookups of one query in flight at once. */
const QUERY_CONCURRENCY = 16;

function invalid(message: string): HoardError {
  return new HoardError(ErrorCode.InvalidArgument, message);
}

/** The request body parsed as JSON; TooLarge over `MAX_JSON_BODY`, InvalidArgument when not JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = () => new HoardError(ErrorCode.TooLarge, `a JSON body is limited to ${MAX_JSON_BODY} bytes`);
  if (declared > MAX_JSON_BODY) throw tooLarge();
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_JSON_BODY) throw tooLarge();
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks, bytes).toString('utf8'));
  } catch {
    throw invalid('the body is not JSON');
  }
}

interface Found {
  readonly size: number;
  readonly taskDurationMs: number;
  readonly tag?: string;
  readonly sha?: string;
  readonly dirtyHash?: string;
}
type Answer = Found | null | { readonly error: { readonly message: string } };

/**
 * `POST /v8/artifacts`: each hash's metadata, or null when absent. A store fault on one hash
 * answers that hash with an error object (turbo treats it as a miss); the call records the
 * fault's cause so it is counted and logged. Each found hash counts as a hit, like a HEAD.
 */
export async function answerQuery(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  keyOf: (hash: string) => Key,
  validHash: (hash: string) => boolean,
): Promise<void> {
  const body = await readJsonBody(req);
  const hashes = (body as { hashes?: unknown } | null)?.hashes;
  if (!Array.isArray(hashes) || !hashes.every((h): h is string => typeof h === 'string' && validHash(h)))
    throw invalid('expected {"hashes": [...]} with artifact hashes');
  if (hashes.length > MAX_QUERY_HASHES) throw invalid(`at most ${MAX_QUERY_HASHES} hashes per query`);
  const unique = [...new Set(hashes)];
  const answers = new Map<string, Answer>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < unique.length) {
      const hash = unique[next++]!;
      answers.set(hash, await lookUp(req, res, ctx, keyOf(hash)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(QUERY_CONCURRENCY, unique.length) }, worker));
  const out: Record<string, Answer> = {};
  for (const h of unique) out[h] = answers.get(h)!;
  const text = JSON.stringify(out);
  writeHead(req, res, ctx, 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function lookUp(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, key: Key): Promise<Answer> {
  try {
    const found = await statArtifact(ctx, key);
    if (found === undefined) {
      ctx.metrics.lookup(PROTOCOL, key, 'miss');
      return null;
    }
    countHit(req, ctx, PROTOCOL, key, found.size);
    const { duration, tag, sha, dirtyHash } = found.metadata;
    return { size: found.size, taskDurationMs: duration === undefined ? 0 : Number(duration), tag, sha, dirtyHash };
  } catch (err) {
    const e = toHoardError(err);
    const call = callOf(res);
    if (call !== undefined) {
      call.cause = causeOf(e);
      call.error = e;
    }
    ctx.logger.error({ err: e, method: req.method, url: req.url }, 'artifact query lookup failed');
    return { error: { message: `${e.code}: ${e.message}` } };
  }
}

const EVENT_KINDS = new Set(['HIT', 'MISS']);
const EVENT_SOURCES = new Set(['LOCAL', 'REMOTE']);

/**
 * `POST /v8/artifacts/events`: turbo's report of its cache hits and misses, local ones
 * included. Checked whole for shape first (a bad batch counts nothing), then counted in
 * hoard_client_reported_lookups_total; hoard's own lookups are counted where it answers them.
 */
export async function acceptEvents(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const body = await readJsonBody(req);
  if (!Array.isArray(body)) throw invalid('expected a JSON array of events');
  for (const e of body as unknown[]) {
    const ev = e as { event?: unknown; source?: unknown } | null;
    if (typeof ev !== 'object' || ev === null || !EVENT_KINDS.has(ev.event as string))
      throw invalid('each event needs "event": "HIT" or "MISS"');
    if (ev.source !== undefined && !EVENT_SOURCES.has(ev.source as string))
      throw invalid('an event\'s "source" is "LOCAL" or "REMOTE"');
  }
  for (const e of body as { event: string; source?: string }[]) {
    ctx.metrics.clientReported(PROTOCOL, e.source === 'LOCAL' ? 'local' : 'remote', e.event === 'HIT' ? 'hit' : 'miss');
  }
  sendEmpty(req, res, ctx, 200);
}
