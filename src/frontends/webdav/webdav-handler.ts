// sccache's WebDAV backend (through OpenDAL) and any plain WebDAV client (rclone): RFC 4918
// class 1 without locks, over the flat store.
//
// A file is one raw entry (`dav:<path>`, namespaced by the URL prefix); a collection is a
// marker entry plus a listing kept in parts (collections.ts). MKCOL writes a marker; a PUT
// creates its missing parents itself, so an evicted marker between sccache's PROPFIND and
// its PUT never costs the write; DELETE removes entries, a collection recursively.
// PROPFIND is propfind.ts.
//
// Statuses: the shared table (status.ts), through sendError, which records the real cause.
// sccache counts any failed read as a miss and any failed write as a warning, so a store
// fault (500/503) or a full store (507) costs hits, never the build; its startup write
// probe failing turns it read-only, which is right for a read-only identity (403) and makes
// a bad credential (401) visible in its stats.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { HttpContext } from '../http/http-context.ts';
import { declaredSize } from '../http/put-entry.ts';
import { sendRangeLookup } from '../http/range-lookup.ts';
import { sendEmpty, sendError, sendText, writeHead } from '../http/respond.ts';
import { Collections } from './collections.ts';
import { UNKNOWN_SIZE } from './listing-part.ts';
import { createPropfind } from './propfind.ts';
import type { DavPath } from './webdav-path.ts';

export const PROTOCOL = 'sccache';
export const METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PROPFIND', 'MKCOL', 'OPTIONS'] as const;
const FILE_HEADERS = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' } as const;
/** The `Allow` of a 405, by what is at the path. */
const ALLOW_FILE = 'GET, HEAD, PUT, DELETE, PROPFIND, OPTIONS';
const ALLOW_COLLECTION = 'DELETE, PROPFIND, OPTIONS';

export type WebdavHandler = (req: IncomingMessage, res: ServerResponse, at: DavPath) => Promise<void>;

export function createWebdavHandler(ctx: HttpContext): WebdavHandler {
  const { store } = ctx;
  const tree = new Collections(store, ctx.logger, ctx.threadIndex);
  const propfind = createPropfind(ctx, tree);

  // Range handling as the Bazel frontend's CAS GET does it.
  function get(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    return sendRangeLookup(req, res, ctx, PROTOCOL, tree.fileKey(at.namespace, at.path), FILE_HEADERS);
  }

  async function put(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, path } = at;
    if (path.length === 0) return sendText(req, res, ctx, 405, 'the root is a collection', { allow: ALLOW_COLLECTION });
    // A partial PUT would replace the whole entry with a part of it (RFC 9110 §14.5: 400).
    if (req.headers['content-range'] !== undefined)
      throw new HoardError(ErrorCode.InvalidArgument, 'PUT with Content-Range is not supported');
    const size = declaredSize(req, ctx);
    const plan = await tree.planPut(namespace, path);
    if (plan.collection)
      return sendText(req, res, ctx, 405, 'a collection exists at this path', { allow: ALLOW_COLLECTION });
    if (plan.conflict !== undefined)
      return sendText(req, res, ctx, 409, `/${plan.conflict.join('/')} is a file, not a collection`);
    // Parents, then the name, then the bytes (collections.ts): a stored file is always listed.
    for (const dir of plan.missing) await tree.create(namespace, dir);
    await tree.listFile(namespace, path, size ?? UNKNOWN_SIZE);
    // Lists the size the store holds now; a failure only leaves a listing the next check corrects.
    const settle = () =>
      tree.settleFile(namespace, path).catch((err: unknown) => ctx.logger.warn({ err }, 'WebDAV listing not settled'));
    try {
      const maxBytes = ctx.maxEntryBytes > 0 ? ctx.maxEntryBytes : undefined;
      await store.put(tree.fileKey(namespace, path), req, { size, maxBytes, handsOverChunks: true });
    } catch (err) {
      // Nothing was published: the listing goes back to what the store holds (an older version, or nothing).
      await settle();
      throw err;
    }
    if (size === undefined) await settle();
    else ctx.metrics.bytesReceived(PROTOCOL, size);
    sendEmpty(req, res, ctx, plan.fileExists ? 204 : 201);
  }

  async function mkcol(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, path } = at;
    // RFC 4918 §9.3: no MKCOL body is defined, so any body is a type this server does not know.
    if (hasBody(req)) return sendText(req, res, ctx, 415, 'MKCOL takes no request body');
    const kind = await tree.kind(namespace, path);
    if (kind === 'collection')
      return sendText(req, res, ctx, 405, 'a collection exists at this path', { allow: ALLOW_COLLECTION });
    if (kind === 'file') return sendText(req, res, ctx, 405, 'a file exists at this path', { allow: ALLOW_FILE });
    if ((await tree.kind(namespace, path.slice(0, -1))) !== 'collection')
      return sendText(req, res, ctx, 409, 'the parent collection does not exist');
    if (await tree.create(namespace, path)) sendEmpty(req, res, ctx, 201);
    else sendText(req, res, ctx, 405, 'a collection exists at this path', { allow: ALLOW_COLLECTION });
  }

  async function remove(req: IncomingMessage, res: ServerResponse, at: DavPath): Promise<void> {
    const { namespace, path } = at;
    const parent = path.slice(0, -1);
    const name = path[path.length - 1];
    // Listings leave out what the store no longer holds; forgetting the name here only
    // keeps this thread's part of the parent's listing small.
    if ((await tree.kind(namespace, path)) === 'collection') {
      await tree.removeTree(namespace, path);
      if (name !== undefined) await tree.forget(namespace, parent, name);
      return sendEmpty(req, res, ctx, 204);
    }
    const deleted = await store.delete(tree.fileKey(namespace, path));
    if (name !== undefined) await tree.forget(namespace, parent, name);
    if (deleted) sendEmpty(req, res, ctx, 204);
    else sendText(req, res, ctx, 404, 'not found');
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

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : Number(length) !== 0;
}
