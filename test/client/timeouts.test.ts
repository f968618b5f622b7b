// Timeouts are about lack of progress, not total time; every call honours its AbortSignal.
// Against small node:http STAND-IN servers that stall or trickle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/core/digest.ts';
import { HttpCacheClient } from '../../src/client/http-client.ts';
import { ClientError } from '../../src/client/client-error.ts';

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test('a download that trickles for longer than the idle timeout succeeds while bytes keep moving (stand-in server)', async () => {
  const blob = randomBytes(20 * 1024);
  const server = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': blob.length });
    let i = 0;
    const t = setInterval(() => {
      res.write(blob.subarray(i, i + 1024));
      i += 1024;
      if (i >= blob.length) {
        clearInterval(t);
        res.end();
      }
    }, 40); // 20 chunks × 40 ms = 800 ms total, never 300 ms without a byte
  });
  const client = new HttpCacheClient(new URL(server.url), { idleTimeoutMs: 300 });
  try {
    const got = await client.getBytes(digestOf(blob));
    assert.ok(got && Buffer.from(got).equals(blob));
  } finally {
    await client.close();
    await server.close();
  }
});

test('a server that stops sending fails the read after the idle timeout, with a timeout error (stand-in server)', async () => {
  const server = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(10)); // then nothing
  });
  const client = new HttpCacheClient(new URL(server.url), { idleTimeoutMs: 200, retry: { retries: 0 } });
  try {
    const t0 = Date.now();
    await assert.rejects(
      client.getBytes(digestOf(Buffer.alloc(1000))),
      (e: unknown) => e instanceof ClientError && e.kind === 'timeout',
    );
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`); // undici checks body timeouts on a coarse tick
  } finally {
    await client.close();
    await server.close();
  }
});

test('an upload the server stops reading fails after the idle timeout (stand-in server)', async () => {
  const server = await serve((req) => req.pause()); // never reads, never answers
  const client = new HttpCacheClient(new URL(server.url), { idleTimeoutMs: 300, retry: { retries: 0 } });
  const blob = randomBytes(32 * 1024 * 1024);
  const d = digestOf(blob);
  try {
    const t0 = Date.now();
    await assert.rejects(
      client.put(d, blob),
      (e: unknown) => e instanceof ClientError && e.kind === 'timeout' && /no progress/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  } finally {
    await client.close();
    await server.close();
  }
});

test('AbortSignal: an aborted call rejects at once as aborted and is not retried (stand-in server)', async () => {
  let requests = 0;
  const server = await serve(() => void requests++); // never answers
  const client = new HttpCacheClient(new URL(server.url));
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    await assert.rejects(
      client.getBytes(digestOf(Buffer.from('x')), { signal: ac.signal }),
      (e: unknown) => e instanceof ClientError && e.kind === 'aborted',
    );
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(requests, 1);
  } finally {
    await client.close();
    await server.close();
  }
});
