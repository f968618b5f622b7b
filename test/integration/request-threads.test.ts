// The request threads of `--workers 2`, whatever the suite's HOARD_WORKERS: a put acknowledged
// through one thread is readable through every thread at once (rule 1 across threads), the
// connections spread over both, and a thread that ends is replaced on the same port while the
// other keeps serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

const CONNECTIONS = 40;

/** `rawRequest` opens a fresh connection each time, so the kernel picks a thread for each. */
async function getFromFreshConnections(url: string, path: string): Promise<number[]> {
  return Promise.all(Array.from({ length: CONNECTIONS }, async () => (await rawRequest(url, 'GET', path)).status));
}

test('--workers 2: a put through one thread is read through any at once, and a thread that ends is replaced', async () => {
  const s = await startTestServer({ workers: '2' });
  try {
    const threads = s.server.requestThreads!;
    assert.deepEqual(threads.running(), [1, 2]);

    // Each PUT on a fresh connection, each followed at once by GETs on fresh connections.
    for (let i = 0; i < 20; i++) {
      const blob = randomBytes(1000 + i);
      const path = `/cas/${sha256(blob)}`;
      assert.equal((await rawRequest(s.url, 'PUT', path, blob)).status, 200);
      assert.deepEqual(
        new Set(
          await Promise.all(Array.from({ length: 4 }, async () => (await rawRequest(s.url, 'GET', path)).status)),
        ),
        new Set([200]),
      );
    }
    const metrics = (await rawRequest(s.url, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_requests_total\{protocol="bazel-http",method="PUT",code="200"\} 20\n/);
    assert.match(metrics, /hoard_requests_total\{protocol="bazel-http",method="GET",code="200"\} 80\n/);

    const blob = randomBytes(5000);
    const path = `/cas/${sha256(blob)}`;
    assert.equal((await rawRequest(s.url, 'PUT', path, blob)).status, 200);
    await threads.end(1);
    // While thread 1 is replaced, new connections reach thread 2 only; none is refused.
    assert.deepEqual(new Set(await getFromFreshConnections(s.url, path)), new Set([200]));
    for (let i = 0; i < 100 && threads.running().length < 2; i++) await sleep(50);
    assert.deepEqual(threads.running(), [1, 2], 'thread 1 was replaced');
    assert.deepEqual(new Set(await getFromFreshConnections(s.url, path)), new Set([200]));
    const status = JSON.parse((await rawRequest(s.url, 'GET', '/status')).body.toString()) as { workers: number };
    assert.equal(status.workers, 2);
  } finally {
    await s.close();
  }
});

test('--workers 2: a second server on a port request threads already share fails to start, as with one thread', async () => {
  const s = await startTestServer({ workers: '2' });
  try {
    const port = new URL(s.url).port;
    for (const workers of ['2', '1']) {
      const second = await startTestServer({ workers, httpAddress: `127.0.0.1:${port}` }).catch((err: Error) => err);
      if (!(second instanceof Error)) {
        await second.close();
        assert.fail(`a --workers ${workers} server started on a port another server's threads listen on`);
      }
      assert.match(second.message, /cannot listen on HTTP address 127\.0\.0\.1:\d+: EADDRINUSE/);
    }
  } finally {
    await s.close();
  }
});
