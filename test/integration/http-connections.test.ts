// Connection semantics (rules 3, 4, 7): keep-alive announced and honoured, a connection
// the server closes says so in a response that arrives whole before the close, a client
// that vanishes mid-upload publishes nothing, a large unread body is refused cleanly, and a
// stalled upload or download is cut after the body idle timeout.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { casKey } from '../../src/core/keys.ts';
import { makeAccessFixtures } from '../helpers/access-fixtures.ts';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

function get(
  agent: Agent,
  url: string,
  path: string,
): Promise<{ status: number; reused: boolean; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('keep-alive: announced with its timeout, and a second request reuses the connection', async () => {
  const s = await startTestServer({ keepAliveTimeout: '90s' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(agent, s.url, `/cas/${sha256('a')}`);
    assert.equal(first.headers['keep-alive'], 'timeout=90');
    assert.equal(first.headers['connection'], 'keep-alive');
    const second = await get(agent, s.url, `/cas/${sha256('b')}`);
    assert.equal(second.reused, true);
  } finally {
    agent.destroy();
    await s.close();
  }
});

test(
  '--debug-close-connections: every response says Connection: close and arrives whole before the close',
  { timeout: 15_000 },
  async () => {
    const s = await startTestServer({ debugCloseConnections: true });
    try {
      const blob = randomBytes(3 * 1024 * 1024);
      const h = sha256(blob);
      assert.equal((await rawRequest(s.url, 'PUT', `/cas/${h}`, blob)).status, 200);
      for (let i = 0; i < 3; i++) {
        const c = await RawConnection.open(s.url);
        await c.writeHead('GET', `/cas/${h}`, { connection: 'keep-alive' });
        const r = await c.readResponse();
        assert.equal(r.status, 200);
        assert.equal(r.headers['connection'], 'close');
        assert.equal(r.body.length, blob.length);
        assert.ok(r.body.equals(blob));
        await c.closed;
      }
    } finally {
      await s.close();
    }
  },
);

test('a client that disconnects mid-upload publishes nothing, and the same key uploads fine afterwards', async () => {
  const s = await startTestServer();
  try {
    const blob = randomBytes(1024 * 1024);
    const h = sha256(blob);
    const c = await RawConnection.open(s.url);
    await c.writeHead('PUT', `/cas/${h}`, { 'content-length': blob.length });
    await c.write(blob.subarray(0, 400 * 1024));
    await sleep(50);
    c.destroy();
    // Wait until the server has accounted for the aborted request.
    for (let i = 0; i < 100 && !(await s.server.metrics.render()).includes('code="aborted"'); i++) await sleep(20);
    assert.match(
      await s.server.metrics.render(),
      /hoard_requests_total\{protocol="bazel-http",method="PUT",code="aborted"\} 1/,
    );
    assert.equal(await s.server.store.stat(casKey(h)), undefined);
    assert.equal((await rawRequest(s.url, 'GET', `/cas/${h}`)).status, 404);
    assert.equal((await rawRequest(s.url, 'PUT', `/cas/${h}`, blob)).status, 200);
    const back = await rawRequest(s.url, 'GET', `/cas/${h}`);
    assert.ok(back.body.equals(blob));
  } finally {
    await s.close();
  }
});

test(
  'a refused upload with a large unread body says Connection: close; a small one keeps the connection',
  { timeout: 15_000 },
  async () => {
    const s = await startTestServer();
    try {
      const c = await RawConnection.open(s.url);
      await c.writeHead('PUT', '/cas/not-a-hash', { 'content-length': 50 * 1024 * 1024 });
      const r = await c.readResponse();
      assert.equal(r.status, 400);
      assert.equal(r.headers['connection'], 'close');
      await c.closed;

      const k = await RawConnection.open(s.url);
      await k.writeHead('PUT', '/cas/not-a-hash', { 'content-length': 5 });
      await k.write('hello');
      const small = await k.readResponse();
      assert.equal(small.status, 400);
      assert.notEqual(small.headers['connection'], 'close');
      await k.writeHead('GET', `/cas/${sha256('x')}`);
      assert.equal((await k.readResponse()).status, 404);
      k.destroy();
    } finally {
      await s.close();
    }
  },
);

test('a stalled upload is cut after --body-idle-timeout and publishes nothing', { timeout: 15_000 }, async () => {
  const s = await startTestServer({ bodyIdleTimeout: '300ms' });
  try {
    const blob = randomBytes(64 * 1024);
    const h = sha256(blob);
    const c = await RawConnection.open(s.url);
    // A first request, so the stalled one runs on a reused keep-alive connection (Node
    // re-arms socket timers between requests; the idle bound must survive that).
    await c.writeHead('GET', `/cas/${h}`);
    assert.equal((await c.readResponse()).status, 404);
    await c.writeHead('PUT', `/cas/${h}`, { 'content-length': blob.length });
    await c.write(blob.subarray(0, 1000));
    const started = Date.now();
    await c.closed;
    assert.ok(Date.now() - started < 5000);
    assert.equal(await s.server.store.stat(casKey(h)), undefined);
  } finally {
    await s.close();
  }
});

test(
  'a stalled download (the client stops reading) is cut after --body-idle-timeout',
  { timeout: 20_000 },
  async () => {
    const s = await startTestServer({ bodyIdleTimeout: '300ms' });
    let c: RawConnection | undefined;
    try {
      // Larger than what the loopback socket buffers hold, so the server's writes stall.
      const blob = randomBytes(32 * 1024 * 1024);
      const h = sha256(blob);
      assert.equal((await rawRequest(s.url, 'PUT', `/cas/${h}`, blob)).status, 200);
      c = await RawConnection.open(s.url);
      c.socket.pause();
      await c.writeHead('GET', `/cas/${h}`);
      const aborted = /hoard_requests_total\{protocol="bazel-http",method="GET",code="aborted"\} 1/;
      for (let i = 0; i < 250 && !aborted.test(await s.server.metrics.render()); i++) await sleep(20);
      assert.match(await s.server.metrics.render(), aborted);
      c.socket.resume();
      await c.closed;
    } finally {
      c?.destroy();
      await s.close();
    }
  },
);

test('a slow upload that keeps making progress is not cut', async () => {
  const s = await startTestServer({ bodyIdleTimeout: '300ms' });
  try {
    const blob = randomBytes(8 * 1024);
    const h = sha256(blob);
    const c = await RawConnection.open(s.url);
    await c.writeHead('PUT', `/cas/${h}`, { 'content-length': blob.length });
    // 8 chunks, 150 ms apart: 1.2 s in total, far beyond the idle timeout.
    for (let i = 0; i < 8; i++) {
      await c.write(blob.subarray(i * 1024, (i + 1) * 1024));
      await sleep(150);
    }
    assert.equal((await c.readResponse()).status, 200);
    c.destroy();
  } finally {
    await s.close();
  }
});

test('a refused large upload: the connection half-closes after the answer, so a client still sending is not reset and reads the status', async () => {
  const fx = await makeAccessFixtures();
  const s = await startTestServer({ htpasswdFile: fx.htpasswdFile });
  try {
    const { hostname, port } = new URL(s.url);
    // allowHalfOpen: this client goes on sending after the server's FIN, as one busy uploading does.
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
    let response = '';
    let failed: Error | undefined;
    let closed = false;
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('error', (err) => (failed = err));
    socket.on('close', () => (closed = true));
    await once(socket, 'connect');
    socket.write(
      `PUT /cas/${sha256('refused')} HTTP/1.1\r\nHost: x\r\nContent-Length: ${16 * 1024 * 1024}\r\n` +
        `Authorization: ${fx.basic('alice', 'wrong-password')}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024);
    let sentAfterAnswer = 0;
    const deadline = Date.now() + 10_000;
    while (failed === undefined && !closed && sentAfterAnswer < 4 * 1024 * 1024 && Date.now() < deadline) {
      const flowing = socket.write(chunk);
      if (response.includes('\r\n\r\n')) sentAfterAnswer += chunk.length;
      if (!flowing) await Promise.race([once(socket, 'drain'), sleep(500)]);
    }
    socket.destroy();
    assert.match(response, /^HTTP\/1\.1 401 /);
    assert.match(response, /\r\nconnection: close\r\n/i);
    assert.equal(failed, undefined, `the client was reset while sending: ${failed?.message}`);
    assert.ok(sentAfterAnswer >= 4 * 1024 * 1024, `sent ${sentAfterAnswer} bytes after the answer`);
  } finally {
    await s.close();
    await fx.close();
  }
});

test('Expect: 100-continue: an upload refused from its headers gets its final status and no 100; an accepted one gets 100 first', async () => {
  const s = await startTestServer({ maxBlobSize: 1024 });
  try {
    const refused = await RawConnection.open(s.url);
    await refused.writeHead('PUT', `/cas/${sha256('too large')}`, {
      'content-length': 4096,
      expect: '100-continue',
    });
    const answer = await refused.readResponse();
    assert.equal(answer.status, 413, 'the final answer comes first, before any body byte was sent');
    refused.destroy();

    const body = Buffer.from('small enough');
    const accepted = await RawConnection.open(s.url);
    await accepted.writeHead('PUT', `/cas/${sha256(body)}`, { 'content-length': body.length, expect: '100-continue' });
    const interim = await accepted.readResponse();
    assert.equal(interim.status, 100);
    await accepted.write(body);
    assert.equal((await accepted.readResponse()).status, 200);
    accepted.destroy();
    assert.equal((await rawRequest(s.url, 'GET', `/cas/${sha256(body)}`)).body.toString(), 'small enough');
  } finally {
    await s.close();
  }
});

test('a declared size over the whole store is refused from the headers, before any body byte (on request threads too)', async () => {
  const s = await startTestServer({ maxSize: '1GiB' });
  try {
    const c = await RawConnection.open(s.url);
    await c.writeHead('PUT', `/cas/${sha256('five gibibytes')}`, { 'content-length': 5 * 1024 ** 3 });
    const answer = await c.readResponse();
    assert.equal(answer.status, 507);
    assert.match(answer.body.toString(), /exceeds the store's bound/);
    c.destroy();
  } finally {
    await s.close();
  }
});
