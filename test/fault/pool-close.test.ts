// Rule 4 (docs/CORRECTNESS.md#origin-released-then-closed): a pooled connection the server asked to close must be closed before
// anyone else can take it. A server that answers `Connection: close` to every request;
// 64 concurrent clients × 200 downloads each through one pool: zero errors with hoard's
// client (retries OFF, so the pool alone is tested), and errors with a test-only naive pool
// that releases the connection before closing it (the Bazel bug). hoard's client mixes in
// existence checks: HEAD is the one request where hoard itself asks undici to keep the
// connection (`reset: false`), so it must still be closed, not reused, when the server says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../../src/core/digest.ts';
import { HttpCacheClient } from '../../src/client/http-client.ts';
import { startFaultProxy } from '../../src/check/fault-proxy.ts';
import { startStandInCache } from './broken-server.ts';
import { NaivePool } from './naive-pool.ts';

const WORKERS = 64;
const DOWNLOADS = 200;
const POOL = 16; // fewer connections than workers: requests wait for a released connection

async function hammer(
  get: () => Promise<void>,
  downloads = DOWNLOADS,
): Promise<{ ok: number; errors: number; first?: string }> {
  let ok = 0;
  let errors = 0;
  let first: string | undefined;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      for (let i = 0; i < downloads; i++) {
        try {
          await get();
          ok++;
        } catch (err) {
          errors++;
          first ??= (err as Error).message;
        }
      }
    }),
  );
  return { ok, errors, first };
}

/** Alternately a verified download and an existence check (HEAD over HTTP) of `digest`. */
function getOrHas(client: HttpCacheClient, digest: Digest, blob: Buffer): () => Promise<void> {
  let n = 0;
  return async () => {
    if (n++ % 2) {
      assert.ok(await client.has(digest));
      return;
    }
    const got = await client.getBytes(digest);
    assert.ok(got && Buffer.from(got).equals(blob));
  };
}

test('rule 4, released-then-closed: 64 clients × 200 downloads and existence checks from a server closing after every response, zero errors (hoard client, retries off)', async () => {
  const server = await startStandInCache({ closeEveryResponse: true });
  const blob = randomBytes(2048);
  const digest = digestOf(blob);
  server.cas.set(digest.hash, blob);
  const client = new HttpCacheClient(new URL(server.url), { concurrency: POOL, retry: { retries: 0 } });
  try {
    const r = await hammer(getOrHas(client, digest, blob));
    assert.equal(r.errors, 0, `first error: ${r.first}`);
    assert.equal(r.ok, WORKERS * DOWNLOADS);
    assert.equal(server.requests.get('GET cas'), (WORKERS * DOWNLOADS) / 2);
    assert.equal(server.requests.get('HEAD cas'), (WORKERS * DOWNLOADS) / 2);
  } finally {
    await client.close();
    await server.close();
  }
});

test('rule 4, released-then-closed: the same load fails with a test-only naive pool that releases before closing', async () => {
  const server = await startStandInCache({ closeEveryResponse: true });
  const blob = randomBytes(2048);
  const digest = digestOf(blob);
  server.cas.set(digest.hash, blob);
  const pool = new NaivePool('127.0.0.1', server.port, POOL);
  try {
    const r = await hammer(async () => {
      const res = await pool.get(`/cas/${digest.hash}`);
      assert.equal(res.status, 200);
    });
    assert.ok(r.errors > 0, 'the naive pool should have failed some downloads');
    console.log(`naive pool: ${r.errors} of ${WORKERS * DOWNLOADS} downloads failed, e.g. "${r.first}"`);
  } finally {
    pool.close();
    await server.close();
  }
});

test('rule 4, released-then-closed: a proxy closing silently after every keep-alive response: 64 × 50 downloads and existence checks, zero errors (retry registry covers stale connections)', async () => {
  const server = await startStandInCache();
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: server.port }, { closeAfterResponse: true });
  const blob = randomBytes(2048);
  const digest = digestOf(blob);
  server.cas.set(digest.hash, blob);
  let retries = 0;
  const client = new HttpCacheClient(new URL(proxy.url('http')), {
    concurrency: POOL,
    onEvent: (e) => void (e.type === 'retry' && retries++),
  });
  try {
    const r = await hammer(getOrHas(client, digest, blob), 50);
    assert.equal(r.errors, 0, `first error: ${r.first}`);
    assert.ok(proxy.stats.responseCloses >= WORKERS * 50);
    console.log(
      `silent closes: ${proxy.stats.responseCloses} connections closed, ${retries} stale-connection retries, 0 errors`,
    );
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

test('rule 4: a response body abandoned half-read never leaves its connection in the pool (stand-in server)', async () => {
  const server = await startStandInCache();
  const big = randomBytes(2_000_000);
  const bigDigest = digestOf(big);
  const small = randomBytes(1000);
  const smallDigest = digestOf(small);
  server.cas.set(bigDigest.hash, big);
  server.cas.set(smallDigest.hash, small);
  let connections = 0;
  const client = new HttpCacheClient(new URL(server.url), {
    concurrency: 1,
    retry: { retries: 0 },
    onEvent: (e) => void (e.type === 'connect' && connections++),
  });
  try {
    for (let i = 0; i < 20; i++) {
      const stream = await client.get(bigDigest);
      assert.ok(stream);
      for await (const _ of stream) break; // read one chunk, then walk away
      const got = await client.getBytes(smallDigest); // the only connection slot: must be a fresh, clean one
      assert.ok(got && Buffer.from(got).equals(small));
    }
    assert.ok(connections >= 20, `${connections} connections for 20 abandoned bodies`);
  } finally {
    await client.close();
    await server.close();
  }
});

test('rule 4: existence checks (HEAD, reset: false) reuse one keep-alive connection; the hammers above show they are still closed when the server says so', async () => {
  const server = await startStandInCache();
  const blob = randomBytes(1000);
  const digest = digestOf(blob);
  server.cas.set(digest.hash, blob);
  let connections = 0;
  const client = new HttpCacheClient(new URL(server.url), {
    concurrency: 1,
    retry: { retries: 0 },
    onEvent: (e) => void (e.type === 'connect' && connections++),
  });
  try {
    for (let i = 0; i < 20; i++) assert.ok(await client.has(digest));
    assert.equal(connections, 1);
  } finally {
    await client.close();
    await server.close();
  }
});
