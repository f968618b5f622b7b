// PROPFIND (RFC 4918 §9.1). Depth 0 is sccache's hot path (OpenDAL asks it of each parent
// before every PUT): one store lookup for a collection or a missing path. Depth 1 (how rclone
// lists) merges the listing parts and checks the members against the store a batch at a
// time; a large answer is streamed batch by batch with back-pressure instead of being built
// whole (a directory may list up to 16 × 10,000 members). Depth infinity is refused on a
// collection (403, as §9.1 allows). The body is read, capped, and not parsed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { HttpContext } from '../http/http-context.ts';
import { sendText, writeHead } from '../http/respond.ts';
import type { Collections } from './collections.ts';
import {
  FINITE_DEPTH_ERROR,
  hrefOf,
  MULTISTATUS_HEAD,
  MULTISTATUS_TAIL,
  multistatus,
  responseXml,
  type DavResource,
} from './multistatus.ts';
import type { DavPath } from './webdav-path.ts';

/** PROPFIND bodies are read (so the connection stays usable) but not parsed, up to this size. */
const MAX_BODY = 64 * 1024;
/** A Depth 1 answer larger than this goes out in chunks, without Content-Length. */
const STREAM_FROM = 256 * 1024;
const XML = 'application/xml; charset=utf-8';

export function createPropfind(ctx: HttpContext, tree: Collections) {
  return async function propfind(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, base, path } = at;
    const depth = depthOf(req.headers['depth']);
    await readSmallBody(req);
    const now = Date.now();
    const kind = await tree.kind(namespace, path);
    if (kind === undefined) return sendText(req, res, ctx, 404, 'not found');
    if (kind === 'file') {
      const file = await tree.fileInfo(namespace, path);
      if (file === undefined) return sendText(req, res, ctx, 404, 'not found');
      return sendWhole(req, res, multistatus([{ href: hrefOf(base, path, false), collection: false, ...file }]));
    }
    const self: DavResource = { href: hrefOf(base, path, true), collection: true, modified: now };
    if (depth === '0') return sendWhole(req, res, multistatus([self]));
    if (depth === 'infinity') {
      writeHead(req, res, ctx, 403, { 'content-type': XML, 'content-length': Buffer.byteLength(FINITE_DEPTH_ERROR) });
      res.end(FINITE_DEPTH_ERROR);
      return;
    }
    const members = await tree.members(namespace, path);
    const chunks = [MULTISTATUS_HEAD, responseXml(self)];
    let buffered = chunks[0]!.length + chunks[1]!.length;
    let streaming = false;
    for await (const batch of tree.list(namespace, path, members)) {
      const text = batch
        .map((m) => {
          const href = hrefOf(base, [...path, m.name], m.dir);
          return responseXml(m.dir ? { href, collection: true, modified: now } : { href, collection: false, ...m });
        })
        .join('');
      if (streaming) {
        await write(res, text);
        continue;
      }
      chunks.push(text);
      buffered += text.length;
      if (buffered > STREAM_FROM) {
        writeHead(req, res, ctx, 207, { 'content-type': XML });
        streaming = true;
        await write(res, chunks.join(''));
      }
    }
    if (streaming) res.end(MULTISTATUS_TAIL);
    else sendWhole(req, res, chunks.join('') + MULTISTATUS_TAIL);
  };

  function sendWhole(req: IncomingMessage, res: ServerResponse, body: string): void {
    writeHead(req, res, ctx, 207, { 'content-type': XML, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** Writes `text`, waiting while the socket's buffer is full; throws when the client went away. */
async function write(res: ServerResponse, text: string): Promise<void> {
  if (!res.write(text)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  if (res.destroyed) throw new HoardError(ErrorCode.Aborted, 'the client went away during a PROPFIND answer');
}

/** The Depth header of a PROPFIND; absent means infinity (RFC 4918 §10.2). */
function depthOf(header: string | string[] | undefined): '0' | '1' | 'infinity' {
  const value = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase() ?? 'infinity';
  if (value === '0' || value === '1' || value === 'infinity') return value;
  throw new HoardError(ErrorCode.InvalidArgument, 'Depth must be 0, 1 or infinity');
}

/** Reads and drops a small request body; a larger one is refused (413) before or while it is read. */
async function readSmallBody(req: IncomingMessage): Promise<void> {
  const tooLarge = () => new HoardError(ErrorCode.TooLarge, `PROPFIND bodies are limited to ${MAX_BODY} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw tooLarge();
  let read = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (read > MAX_BODY) throw tooLarge();
  }
}
