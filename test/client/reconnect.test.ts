// Rule 5 (docs/CORRECTNESS.md#origin-idle-cut) over HTTP, against a STAND-IN cache server (test/fault/broken-server.ts
// with no faults): idle connections that die are replaced, safe operations are retried once
// on a fresh connection and the client says it reconnected, unsafe ones are never repeated,
// and a dead server fails fast with a message naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf } from '../../src/core/digest.ts';
import { HttpCacheClient } from '../../src/client/http-client.ts';
import { ClientError } from '../../src/client/client-error.ts';
import type { ClientEvent } from '../../src/client/types.ts';
import { startFaultProxy } from '../../src/check/fault-proxy.ts';
import { startStandInCache } from '../fault/broken-server.ts';

const blob = randomBytes(10_000);
const digest = digestOf(blob);

function recorder(): {
  events: ClientEvent[];
  onEvent: (e: ClientEvent) => void;
  count: (t: ClientEvent['type']) => number;
} {
  const events: ClientEvent[] = [];
  return { events, onEvent: (e) => events.push(e), count: (t) => events.filter((e) => e.type === t).length };
}

test('rule 5, idle cut: the server restarts between requests (stand-in server); the next read succeeds after one reconnect, reported', async () => {
  const first = await startStandInCache();
  first.cas.set(digest.hash, blob);
  const rec = recorder();
  const client = new HttpCacheClient(new URL(first.url), { onEvent: rec.onEvent });
  try {
    assert.ok(await client.has(digest));
    await first.close(); // the restart: every connection is closed
    const second = await startStandInCache({}, first.port);
    second.cas.set(digest.hash, blob);
    try {
      const got = await client.getBytes(digest);
      assert.ok(got && Buffer.from(got).equals(blob));
      const reconnects = rec.events.filter((e) => e.type === 'connect' && e.reconnect);
      assert.equal(reconnects.length, 1, JSON.stringify(rec.events));
      assert.ok(rec.count('disconnect') >= 1);
      assert.equal(second.requests.get('GET cas'), 1);
    } finally {
      await second.close();
    }
  } finally {
    await client.close();
  }
});

test('rule 5, idle cut: a proxy silently cuts idle connections; the next read fails on the stale connection, is retried once and succeeds', async () => {
  const server = await startStandInCache();
  server.cas.set(digest.hash, blob);
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: server.port },
    { idleCutMs: 100, idleCutStyle: 'silent' },
  );
  const rec = recorder();
  const client = new HttpCacheClient(new URL(proxy.url('http')), { onEvent: rec.onEvent });
  try {
    assert.ok(await client.has(digest));
    await sleep(250); // the proxy forgets the connection; the client is not told
    assert.equal(proxy.stats.idleCuts, 1);
    const got = await client.getBytes(digest);
    assert.ok(got && Buffer.from(got).equals(blob));
    assert.equal(rec.count('retry'), 1, JSON.stringify(rec.events));
    const reconnected = rec.events.find((e) => e.type === 'reconnected');
    assert.ok(reconnected && reconnected.type === 'reconnected' && reconnected.operation === 'cas.get');
    assert.equal(server.requests.get('GET cas'), 1, 'the stale attempt never reached the server');
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

test('rule 5: a connection dropped after the request arrived: a safe read is repeated, an unsafe delete is not', async () => {
  const server = await startStandInCache();
  server.cas.set(digest.hash, blob);
  const dropped = new Set<string>();
  server.intercept = (req) => {
    // Drop the first request of each method without answering, after the server saw it.
    if (dropped.has(req.method ?? '')) return false;
    dropped.add(req.method ?? '');
    req.socket.destroy();
    return true;
  };
  const rec = recorder();
  const client = new HttpCacheClient(new URL(server.url), { onEvent: rec.onEvent });
  try {
    const got = await client.getBytes(digest);
    assert.ok(got && Buffer.from(got).equals(blob));
    assert.equal(server.requests.get('GET cas'), 2, 'the safe read was repeated once');

    await assert.rejects(
      client.delete(digest),
      (err: unknown) => err instanceof ClientError && err.kind === 'dropped' && /dropped/.test(err.message),
    );
    assert.equal(server.requests.get('DELETE cas'), 1, 'the unsafe delete was not repeated');
    assert.ok(server.cas.has(digest.hash));
  } finally {
    await client.close();
    await server.close();
  }
});

test('rule 5: a dead server fails within 3 s with a clear message naming it (fresh client and pooled client)', async () => {
  const server = await startStandInCache();
  server.cas.set(digest.hash, blob);
  const pooled = new HttpCacheClient(new URL(server.url));
  assert.ok(await pooled.has(digest));
  await server.close();
  const fresh = new HttpCacheClient(new URL(server.url));
  try {
    for (const client of [fresh, pooled]) {
      const t0 = Date.now();
      await assert.rejects(client.getBytes(digest), (err: unknown) => {
        assert.ok(err instanceof ClientError);
        assert.equal(err.kind, 'connect');
        assert.match(
          err.message,
          new RegExp(`cannot connect to ${server.url.replace(/[./]/g, '\\$&')}.*connection refused`),
        );
        return true;
      });
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    }
  } finally {
    await fresh.close();
    await pooled.close();
  }
});

test('rule 5: transient 503s are retried with backoff, 404 is a miss, 400 is final', async () => {
  const server = await startStandInCache();
  server.cas.set(digest.hash, blob);
  let unavailable = 2;
  server.intercept = (req, res) => {
    if (req.method === 'GET' && unavailable > 0) {
      unavailable--;
      res.writeHead(503).end('busy');
      return true;
    }
    return false;
  };
  const rec = recorder();
  const client = new HttpCacheClient(new URL(server.url), { onEvent: rec.onEvent, retry: { baseDelayMs: 10 } });
  try {
    assert.ok(await client.getBytes(digest));
    const delays = rec.events.flatMap((e) => (e.type === 'retry' ? [e.delayMs] : []));
    assert.equal(delays.length, 2);
    assert.ok((delays[1] ?? 0) > (delays[0] ?? 0), `backoff grows: ${delays}`);
    assert.equal(await client.getBytes(digestOf(Buffer.from('absent'))), undefined);
    await assert.rejects(client.put(digest, Buffer.alloc(blob.length, 7)), /HTTP 400/);
  } finally {
    await client.close();
    await server.close();
  }
});

test('a download cut mid-body resumes with Range at the bytes received and verifies (stand-in server)', async () => {
  const server = await startStandInCache();
  const big = randomBytes(1_000_000);
  const d = digestOf(big);
  server.cas.set(d.hash, big);
  const ranges: string[] = [];
  server.intercept = (req) => {
    ranges.push(req.headers.range ?? '');
    return false;
  };
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: server.port },
    { cutAfterBytes: (conn) => (conn === 0 ? 300_000 : undefined), cutDirection: 'downstream' },
  );
  const rec = recorder();
  const client = new HttpCacheClient(new URL(proxy.url('http')), { onEvent: rec.onEvent });
  try {
    const got = await client.getBytes(d);
    assert.ok(got && Buffer.from(got).equals(big));
    const resume = rec.events.find((e) => e.type === 'resume');
    assert.ok(resume && resume.type === 'resume' && resume.offset > 0 && resume.offset < 300_000);
    assert.deepEqual(ranges, ['', `bytes=${resume.offset}-`]);
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});
