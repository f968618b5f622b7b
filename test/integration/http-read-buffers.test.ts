// Pooled read buffers (src/core/buffer-pool.ts) over HTTP/1.1: a GET of a pooled entry
// (64 KiB < size <= 1 MiB, in a segment) whose response is queued behind a stalled one must
// not have its buffer handed back before it is written (reapi-read-buffers.test.ts: gRPC).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

test('pooled buffers go back only after the HTTP response was written', { timeout: 30_000 }, async () => {
  const s = await startTestServer();
  try {
    const big = randomBytes(32 * 1024 * 1024);
    const x = randomBytes(600 * 1024);
    const y = randomBytes(600 * 1024);
    for (const b of [big, x, y]) assert.equal((await rawRequest(s.url, 'PUT', `/cas/${sha256(b)}`, b)).status, 200);
    const c = await RawConnection.open(s.url);
    c.socket.pause();
    // Pipelined: the second response waits in the server behind the stalled first.
    await c.write(
      `GET /cas/${sha256(big)} HTTP/1.1\r\nhost: x\r\n\r\nGET /cas/${sha256(x)} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
    );
    await sleep(300);
    for (let i = 0; i < 5; i++) assert.deepEqual((await rawRequest(s.url, 'GET', `/cas/${sha256(y)}`)).body, y);
    const chunks: Buffer[] = [];
    c.socket.on('data', (d: Buffer) => chunks.push(d));
    c.socket.resume();
    await c.closed;
    const all = Buffer.concat(chunks);
    const tail = all.subarray(all.length - x.length);
    assert.ok(tail.equals(x), "the queued response carries x's bytes");
  } finally {
    await s.close();
  }
});
