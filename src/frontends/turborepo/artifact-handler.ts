// GET, HEAD and PUT of one Turborepo artifact (docs/PROTOCOLS.md, Turborepo). An artifact is
// opaque bytes (a compressed tar) in the raw keyspace, stored with the header values turbo
// sends beside it (artifact-frame.ts) and answered with them: x-artifact-duration is the time
// a hit saves, and x-artifact-tag the signature turbo verifies before restoring a signed
// artifact, so both come back byte for byte.
//
// A PUT streams: the frame goes first, then the request body as it arrives, in one put whose
// declared size is the frame's plus Content-Length. The store publishes nothing unless all
// of it arrived (rule 1), and the answer is written only after it published (rule 3).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import type { HttpContext } from '../http/http-context.ts';
import { declaredSize } from '../http/put-entry.ts';
import { countHit, sendEntry, sendError, sendMiss, writeHead } from '../http/respond.ts';
import { discardEntry, encodeFrame, MAX_FRAME_BYTES, openArtifact, type ArtifactMetadata } from './artifact-frame.ts';
import { LENGTH_REQUIRED_WORDING } from './turborepo-wording.ts';

export const PROTOCOL = 'turborepo';

function badHeader(name: string, why: string): HoardError {
  return new HoardError(ErrorCode.InvalidArgument, `${name}: ${why}`);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// turbo sends the duration as a u64 in decimal and parses it back the same way.
const DURATION = /^[0-9]{1,20}$/;
// turbo reads it back as a u64: a larger value would fail every client that hits the artifact.
const MAX_U64 = 2n ** 64n - 1n;
// Standard base64 (turbo's HMAC-SHA256 tag is 44 characters); Vercel caps the tag at 600.
const TAG = /^[A-Za-z0-9+/]{1,600}={0,2}$/;
const MAX_TAG = 600;
// A commit sha and a hash of uncommitted changes, each at most 200 characters.
const SCM = /^[\x21-\x7e]{1,200}$/;

/** The header values to store with an upload; InvalidArgument when one is malformed. */
export function metadataFromHeaders(req: IncomingMessage): ArtifactMetadata {
  const duration = header(req, 'x-artifact-duration');
  const tag = header(req, 'x-artifact-tag');
  const sha = header(req, 'x-artifact-sha');
  const dirtyHash = header(req, 'x-artifact-dirty-hash');
  if (duration !== undefined && !(DURATION.test(duration) && BigInt(duration) <= MAX_U64))
    throw badHeader('x-artifact-duration', 'must be milliseconds, in decimal digits');
  if (tag !== undefined && (tag.length > MAX_TAG || !TAG.test(tag)))
    throw badHeader('x-artifact-tag', `must be base64, at most ${MAX_TAG} characters`);
  if (sha !== undefined && !SCM.test(sha)) throw badHeader('x-artifact-sha', 'must be 1..200 printable characters');
  if (dirtyHash !== undefined && !SCM.test(dirtyHash))
    throw badHeader('x-artifact-dirty-hash', 'must be 1..200 printable characters');
  return { duration, tag, sha, dirtyHash };
}

/** The response headers that give an artifact's metadata back. */
export function metadataHeaders(metadata: ArtifactMetadata): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
  if (metadata.duration !== undefined) headers['x-artifact-duration'] = metadata.duration;
  if (metadata.tag !== undefined) headers['x-artifact-tag'] = metadata.tag;
  if (metadata.sha !== undefined) headers['x-artifact-sha'] = metadata.sha;
  if (metadata.dirtyHash !== undefined) headers['x-artifact-dirty-hash'] = metadata.dirtyHash;
  return headers;
}

/** The artifact's metadata and size, reading only its frame; undefined on a miss. */
export async function statArtifact(
  ctx: HttpContext,
  key: Key,
  signal?: AbortSignal,
): Promise<{ metadata: ArtifactMetadata; size: number } | undefined> {
  const entry = await ctx.store.get(key, { limit: MAX_FRAME_BYTES, signal });
  if (entry === undefined) return undefined;
  const { metadata, entry: artifact } = await openArtifact(entry);
  discardEntry(artifact);
  return { metadata, size: artifact.size };
}

/** GET or HEAD: 200 with the artifact (GET) and its metadata headers, or a 404 miss. */
export async function sendArtifact(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  key: Key,
): Promise<void> {
  if (req.method === 'HEAD') {
    const found = await statArtifact(ctx, key);
    if (found === undefined) return sendMiss(req, res, ctx, PROTOCOL, key);
    const headers = metadataHeaders(found.metadata);
    headers['content-length'] = found.size;
    writeHead(req, res, ctx, 200, headers);
    res.end();
    countHit(req, ctx, PROTOCOL, key, found.size);
    return;
  }
  // One lookup: the frame and the artifact come from the same entry.
  const entry = await ctx.store.get(key);
  if (entry === undefined) return sendMiss(req, res, ctx, PROTOCOL, key);
  const { metadata, entry: artifact } = await openArtifact(entry);
  await sendEntry(req, res, ctx, 200, artifact, artifact.size, metadataHeaders(metadata));
  countHit(req, ctx, PROTOCOL, key, artifact.size);
}

/** PUT: stores the frame and the streamed body as one entry, then answers 202. */
export async function receiveArtifact(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  key: Key,
): Promise<void> {
  const metadata = metadataFromHeaders(req);
  if (req.headers['content-length'] === undefined) {
    const refusal = new HoardError(ErrorCode.InvalidArgument, 'an artifact upload needs a Content-Length');
    return sendError(req, res, ctx, refusal, LENGTH_REQUIRED_WORDING);
  }
  // Over --max-blob-size: refused from the headers, before a byte of the body is read. The
  // store refuses a declared size over its whole bound the same way, in its put.
  const size = declaredSize(req, ctx)!;
  const frame = encodeFrame(metadata);
  const limit = ctx.maxEntryBytes > 0 ? ctx.maxEntryBytes + frame.length : undefined;
  await ctx.store.put(key, framed(frame, req), { size: frame.length + size, maxBytes: limit, handsOverChunks: true });
  ctx.metrics.bytesReceived(PROTOCOL, size);
  const body = '{"urls":[]}';
  writeHead(req, res, ctx, 202, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

async function* framed(frame: Buffer, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield frame;
  yield* body;
}
