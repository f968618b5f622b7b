// sccache's WebDAV backend (through OpenDAL) and any plain WebDAV client (rclone): RFC 4918
// class 1 without locks, over the flat store.
//
// Design: a file is one raw entry (`dav:<path>`, namespaced by the URL prefix). A
// collection exists while its marker entry does (or is the root); its listing is kept in
// small JSON parts, one per request thread (collections.ts). MKCOL writes a marker; a PUT
// lists its file in its parent and creates missing parents itself (a client that skips
// MKCOL still works); DELETE removes entries. So PROPFIND Depth 0 (what sccache asks of
// each ancestor before a PUT) costs one lookup, and Depth 1 (how rclone lists) reads the
// parts and checks every member against the store in one batch: members deleted or evicted
// are left out, never listed and then missing. Bounds: a part lists at most MAX_MEMBERS
// members (one more gets 507 once the absent ones are pruned); Depth infinity is refused
// (403, RFC 4918 §9.1); PROPFIND bodies are not parsed and capped at 64 KiB.
//
// Statuses: the shared table (status.ts). sccache counts any failed read as a miss and any
// failed write as a warning, so a store fault (500/503) or a full store (507) costs hits,
// never the build; its startup write probe failing turns it read-only, which is right for
// a read-only identity (403) and makes a bad credential (401) visible in its stats.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { HttpContext } from '../http/http-context.ts';
import { declaredSize } from '../http/put-entry.ts';
import { resolveRangeHeader } from '../http/range-header.ts';
import {
  countHit,
  sendEmpty,
  sendEntry,
  sendError,
  sendLookup,
  sendMiss,
  sendText,
  writeHead,
} from '../http/respond.ts';
import { Collections } from './collections.ts';
import { FINITE_DEPTH_ERROR, hrefOf, multistatus, type DavResource } from './multistatus.ts';

export const PROTOCOL = 'sccache';
export const METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PROPFIND', 'MKCOL', 'OPTIONS'] as const;
/** PROPFIND request bodies are read (to keep the connection) but not parsed, up to this size. */
const MAX_PROPFIND_BODY = 64 * 1024;
const FILE_HEADERS = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' } as const;

export interface DavPath {
  readonly namespace: string;
  /** The URL prefix and the mount, to build hrefs from. */
  readonly base: readonly string[];
  /** Below the mount; empty for the root collection. */
  readonly path: readonly string[];
}

export type WebdavHandler = (req: IncomingMessage, res: ServerResponse, at: DavPath) => Promise<void>;

export function createWebdavHandler(ctx: HttpContext): WebdavHandler {
  const { store } = ctx;
  const tree = new Collections(store, ctx.logger);

  async function get(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const key = tree.fileKey(at.namespace, at.path);
    const range = req.headers['range'];
    if (range === undefined || req.method !== 'GET')
      return sendLookup(req, res, ctx, PROTOCOL, 'raw', key, { ...FILE_HEADERS });
    const size = await store.stat(key);
    if (size === undefined) return sendMiss(req, res, ctx, PROTOCOL, 'raw');
    const r = resolveRangeHeader(range, size);
    if (r.kind === 'unsatisfiable') {
      sendText(req, res, ctx, 416, `out_of_range: the entry has ${size} bytes`, { 'content-range': `bytes */${size}` });
      return;
    }
    if (r.kind === 'full') return sendLookup(req, res, ctx, PROTOCOL, 'raw', key, { ...FILE_HEADERS });
    const length = r.end - r.start + 1;
    const part = await store.get(key, { offset: r.start, limit: length });
    if (part === undefined) return sendMiss(req, res, ctx, PROTOCOL, 'raw');
    countHit(req, ctx, PROTOCOL, 'raw', length);
    const headers = { ...FILE_HEADERS, 'content-range': `bytes ${r.start}-${r.end}/${part.size}` };
    return sendEntry(req, res, ctx, 206, part, length, headers);
  }

  async function put(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, path } = at;
    if (path.length === 0)
      return sendText(req, res, ctx, 405, 'the root is a collection', { allow: 'PROPFIND, OPTIONS' });
    // A partial PUT would replace the whole entry with a part of it (RFC 9110 §9.3.4).
    if (req.headers['content-range'] !== undefined)
      throw new HoardError(ErrorCode.InvalidArgument, 'PUT with Content-Range is not supported');
    const size = declaredSize(req, ctx);
    if (await tree.isCollection(namespace, path))
      return sendText(req, res, ctx, 405, 'a collection exists at this path', { allow: 'PROPFIND, DELETE, OPTIONS' });
    const missing = await tree.missing(namespace, path.slice(0, -1));
    for (const dir of missing) {
      if ((await store.stat(tree.fileKey(namespace, dir))) !== undefined)
        return sendText(req, res, ctx, 409, `/${dir.join('/')} is a file, not a collection`);
    }
    const key = tree.fileKey(namespace, path);
    const existed = (await store.stat(key)) !== undefined;
    await store.put(key, req, { size, maxBytes: ctx.maxEntryBytes > 0 ? ctx.maxEntryBytes : undefined });
    try {
      for (const dir of missing) await tree.create(namespace, dir);
      await tree.addFile(namespace, path);
    } catch (err) {
      // Not listed means not stored: a failed PUT leaves nothing behind.
      await store.delete(key).catch(() => undefined);
      throw err;
    }
    if (size !== undefined) ctx.metrics.bytesReceived(PROTOCOL, size);
    sendEmpty(req, res, ctx, existed ? 204 : 201);
  }

  async function mkcol(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, path } = at;
    const exists = (what: string) =>
      sendText(req, res, ctx, 405, `${what} exists at this path`, { allow: 'PROPFIND, DELETE, OPTIONS' });
    if (path.length === 0) return exists('the root collection');
    if ((await store.stat(tree.fileKey(namespace, path))) !== undefined) return exists('a file');
    if (!(await tree.isCollection(namespace, path.slice(0, -1))))
      return sendText(req, res, ctx, 409, 'the parent collection does not exist');
    if (await tree.create(namespace, path)) sendEmpty(req, res, ctx, 201);
    else exists('a collection');
  }

  async function remove(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, path } = at;
    const parent = path.slice(0, -1);
    const name = path[path.length - 1];
    // Listings leave out what the store no longer holds; forgetting the name here only
    // keeps this thread's part of the parent's listing small.
    if (await tree.isCollection(namespace, path)) {
      await tree.removeTree(namespace, path);
      if (name !== undefined) await tree.forget(namespace, parent, name);
      return sendEmpty(req, res, ctx, 204);
    }
    const deleted = await store.delete(tree.fileKey(namespace, path));
    if (name !== undefined) await tree.forget(namespace, parent, name);
    if (deleted) sendEmpty(req, res, ctx, 204);
    else sendText(req, res, ctx, 404, 'not found');
  }

  async function propfind(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, base, path } = at;
    const depth = depthOf(req.headers['depth']);
    await readSmallBody(req);
    const now = Date.now();
    const self: DavResource = { href: hrefOf(base, path, true), collection: true, modified: now };
    if (depth === '0') {
      if (await tree.isCollection(namespace, path)) return sendMultistatus(req, res, [self]);
    } else {
      const members = await tree.members(namespace, path);
      if (members !== undefined) {
        if (depth === 'infinity') {
          writeHead(req, res, ctx, 403, {
            'content-type': 'application/xml; charset=utf-8',
            'content-length': Buffer.byteLength(FINITE_DEPTH_ERROR),
          });
          res.end(FINITE_DEPTH_ERROR);
          return;
        }
        const listed = await tree.list(namespace, path, members);
        const resources = listed.map((m): DavResource => {
          const href = hrefOf(base, [...path, m.name], m.dir);
          return m.dir ? { href, collection: true, modified: now } : { href, collection: false, ...m };
        });
        return sendMultistatus(req, res, [self, ...resources]);
      }
    }
    const file = await tree.fileInfo(namespace, path);
    if (file === undefined) return sendText(req, res, ctx, 404, 'not found');
    sendMultistatus(req, res, [{ href: hrefOf(base, path, false), collection: false, ...file }]);
  }

  function sendMultistatus(req: IncomingMessage, res: ServerResponse, resources: readonly DavResource[]): void {
    const body = multistatus(resources);
    writeHead(req, res, ctx, 207, {
      'content-type': 'application/xml; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  return async function handleWebdav(req, res, at) {
    try {
      switch (req.method) {
        case 'GET':
        case 'HEAD':
          return await get(req, res, at);
        case 'PUT':
          return await put(req, res, at);
        case 'MKCOL':
          return await mkcol(req, res, at);
        case 'DELETE':
          return await remove(req, res, at);
        case 'PROPFIND':
          return await propfind(req, res, at);
        case 'OPTIONS':
          writeHead(req, res, ctx, 200, { dav: '1', allow: METHODS.join(', '), 'content-length': 0 });
          res.end();
          return;
        // The route table hands over METHODS only (webdav-route.ts).
      }
    } catch (err) {
      sendError(req, res, ctx, err);
    }
  };
}

/** The Depth header of a PROPFIND; absent means infinity (RFC 4918 §10.2). */
function depthOf(header: string | string[] | undefined): '0' | '1' | 'infinity' {
  const value = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase() ?? 'infinity';
  if (value === '0' || value === '1' || value === 'infinity') return value;
  throw new HoardError(ErrorCode.InvalidArgument, 'Depth must be 0, 1 or infinity');
}

/** Reads and drops a small request body; a larger one is refused (413) before or while it is read. */
async function readSmallBody(req: IncomingMessage): Promise<void> {
  const tooLarge = () =>
    new HoardError(ErrorCode.TooLarge, `request bodies are limited to ${MAX_PROPFIND_BODY} bytes here`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_PROPFIND_BODY) throw tooLarge();
  let read = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (read > MAX_PROPFIND_BODY) throw tooLarge();
  }
}
