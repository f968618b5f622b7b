// Store failures reach the client as the status of the one table (507 full, 500 internal,
// 503 unavailable) with the connection left usable, and the process keeps serving.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode, HoardError } from '../../src/core/errors.ts';
import { HTTP_STATUS } from '../../src/frontends/http/status.ts';
import type { HttpListener } from '../../src/server/http-listener.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions } from '../../src/storage/store.ts';
import { Readable } from 'node:stream';
import type { Key } from '../../src/core/keys.ts';
import { startHttpListenerOver } from '../helpers/http-listener-over.ts';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

/**
 * A memory store whose puts fail with `failWith` (after draining the body) while it is set,
 * and whose reads fail after `breakReadsAfter` bytes of the body (a disk error mid-read).
 */
class FailingStore extends MemoryStore {
  failWith: ErrorCode | undefined;
  breakReadsAfter: number | undefined;
  override async get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    const entry = await super.get(key, options);
    const after = this.breakReadsAfter;
    if (!entry || after === undefined) return entry;
    const bytes = entry.bytes ?? Buffer.concat(await entry.stream.toArray());
    const stream = new Readable({ read() {} });
    stream.push(bytes.subarray(0, after));
    setTimeout(() => stream.destroy(new HoardError(ErrorCode.Internal, 'EIO: i/o error, read')), 20);
    return { size: entry.size, stream };
  }
  override async put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    if (this.failWith !== undefined) {
      for await (const _ of body as AsyncIterable<Uint8Array>) void _;
      throw new HoardError(this.failWith, `store says ${this.failWith}`);
    }
    return super.put(key, body, options);
  }
}

let listener: HttpListener;
const state = { draining: false };
const store = new FailingStore();
before(async () => {
  listener = await startHttpListenerOver(store, state);
});
after(() => listener.drain(Date.now()));

test('every error code has a status, and client errors are never 5xx', () => {
  for (const code of Object.values(ErrorCode)) assert.ok(HTTP_STATUS[code] >= 400, code);
  for (const code of [
    ErrorCode.InvalidArgument,
    ErrorCode.DigestMismatch,
    ErrorCode.SizeMismatch,
    ErrorCode.TooLarge,
    ErrorCode.OutOfRange,
  ]) {
    assert.ok(HTTP_STATUS[code] < 500, code);
  }
});

test('a full store is 507, an internal failure 500, shutdown 503; the server keeps serving', async () => {
  const blob = Buffer.from('payload');
  const h = sha256(blob);
  for (const [code, status] of [
    [ErrorCode.InsufficientStorage, 507],
    [ErrorCode.Internal, 500],
    [ErrorCode.Unavailable, 503],
  ] as const) {
    store.failWith = code;
    const r = await rawRequest(listener.url, 'PUT', `/cas/${h}`, blob);
    assert.equal(r.status, status, code);
    assert.match(r.body.toString(), new RegExp(code));
  }
  store.failWith = undefined;
  assert.equal((await rawRequest(listener.url, 'PUT', `/cas/${h}`, blob)).status, 200);
  assert.equal((await rawRequest(listener.url, 'GET', `/cas/${h}`)).status, 200);
});

test(
  'a store read that fails mid-body cuts the connection: the client never takes a torn body for a whole one',
  { timeout: 10_000 },
  async () => {
    const blob = Buffer.alloc(200_000, 9);
    const h = sha256(blob);
    assert.equal((await rawRequest(listener.url, 'PUT', `/cas/${h}`, blob)).status, 200);
    store.breakReadsAfter = 50_000;
    try {
      // 200 and the Content-Length went out before the failure: only the cut can tell the client.
      await assert.rejects(
        rawRequest(listener.url, 'GET', `/cas/${h}`),
        (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || /aborted/.test(err.message),
      );
    } finally {
      store.breakReadsAfter = undefined;
    }
    const r = await rawRequest(listener.url, 'GET', `/cas/${h}`);
    assert.ok(r.status === 200 && r.body.equals(blob), 'and the server keeps serving');
  },
);

test('/readyz answers 503 while the server drains, /healthz stays 200', async () => {
  assert.equal((await rawRequest(listener.url, 'GET', '/readyz')).status, 200);
  state.draining = true;
  try {
    const r = await rawRequest(listener.url, 'GET', '/readyz');
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), 'draining\n');
    assert.equal((await rawRequest(listener.url, 'GET', '/healthz')).status, 200);
  } finally {
    state.draining = false;
  }
});

test('a PUT larger than the whole store is 507 insufficient_storage (not 413), before its body; nothing stored', async () => {
  const small = await startTestServer({ maxSize: '1MiB' });
  try {
    const big = Buffer.alloc(2 * 1024 * 1024, 3);
    const r = await rawRequest(small.url, 'PUT', `/cas/${sha256(big)}`, big);
    assert.equal(r.status, 507, r.body.toString());
    assert.match(r.body.toString(), /^insufficient_storage/);
    assert.equal((await rawRequest(small.url, 'GET', `/cas/${sha256(big)}`)).status, 404);
  } finally {
    await small.close();
  }
});

test('an oversized body gets the same status declared or chunked: 507 over the store, 413 over --max-blob-size', async () => {
  const big = Buffer.alloc(2 * 1024 * 1024, 5);
  const chunked = { 'transfer-encoding': 'chunked' };
  const small = await startTestServer({ maxSize: '1MiB' });
  try {
    for (const headers of [{}, chunked]) {
      const r = await rawRequest(small.url, 'PUT', `/cc/${sha256('over-store').slice(0, 40)}`, big, headers);
      assert.equal(r.status, 507, `${JSON.stringify(headers)}: ${r.body.toString()}`);
      assert.match(r.body.toString(), /^insufficient_storage/);
    }
  } finally {
    await small.close();
  }
  const capped = await startTestServer({ maxBlobSize: '1MiB' });
  try {
    for (const headers of [{}, chunked]) {
      const r = await rawRequest(capped.url, 'PUT', `/cc/${sha256('over-entry').slice(0, 40)}`, big, headers);
      assert.equal(r.status, 413, `${JSON.stringify(headers)}: ${r.body.toString()}`);
    }
  } finally {
    await capped.close();
  }
});
