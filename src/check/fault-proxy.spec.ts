import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { startFaultProxy, type FaultPlan, type FaultProxy } from './fault-proxy.ts';
import { HttpFramer } from './http-framer.ts';

async function tcpSink(): Promise<{
  port: number;
  received: () => number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let received = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('data', (c: Buffer) => {
      received += c.length;
      s.write(c); // echo
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => received,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

type Sink = Awaited<ReturnType<typeof tcpSink>>;

/** Runs `fn` with a fault proxy in front of an echoing TCP sink; both are closed even when `fn` fails. */
async function withProxy(plan: FaultPlan, fn: (proxy: FaultProxy, sink: Sink) => Promise<void>): Promise<void> {
  const sink = await tcpSink();
  let proxy: FaultProxy | undefined;
  try {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: sink.port }, plan);
    await fn(proxy, sink);
  } finally {
    await proxy?.close();
    await sink.close();
  }
}

async function connect(proxy: FaultProxy): Promise<net.Socket> {
  const s = net.connect(proxy.port, proxy.host);
  await once(s, 'connect');
  return s;
}

test('fault proxy: forwards bytes both ways when no fault is planned', () =>
  withProxy({}, async (proxy) => {
    const s = await connect(proxy);
    s.write('hello');
    const [echo] = (await once(s, 'data')) as [Buffer];
    assert.equal(echo.toString(), 'hello');
    s.destroy();
  }));

test('fault proxy: cuts a connection after exactly N upstream bytes', () =>
  withProxy({ cutAfterBytes: 1000, cutDirection: 'upstream' }, async (proxy, sink) => {
    const s = await connect(proxy);
    s.on('error', () => {});
    s.on('data', () => {});
    s.write(Buffer.alloc(5000, 1));
    await once(s, 'close');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sink.received(), 1000);
    assert.equal(proxy.stats.cuts, 1);
  }));

test('fault proxy: an idle cut with a FIN ends the client side', () =>
  withProxy({ idleCutMs: 50 }, async (proxy) => {
    const s = await connect(proxy);
    const t0 = Date.now();
    await once(s, 'end');
    assert.ok(Date.now() - t0 >= 40);
    assert.equal(proxy.stats.idleCuts, 1);
    s.destroy();
  }));

test('fault proxy: a silent idle cut resets the client only when it next sends', () =>
  withProxy({ idleCutMs: 30, idleCutStyle: 'silent' }, async (proxy) => {
    const s = await connect(proxy);
    let ended = false;
    s.on('end', () => (ended = true));
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(ended, false, 'the client must not learn of a silent cut');
    assert.equal(proxy.stats.idleCuts, 1);
    s.write('late request');
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
  }));

test('fault proxy: refuse resets new connections', () =>
  withProxy({ refuse: true }, async (proxy, sink) => {
    const s = net.connect(proxy.port, proxy.host);
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(sink.connections(), 0);
  }));

test('fault proxy: delay holds each chunk back', () =>
  withProxy({ delayMs: 60 }, async (proxy) => {
    const s = await connect(proxy);
    const t0 = Date.now();
    s.write('x');
    await once(s, 'data');
    assert.ok(Date.now() - t0 >= 110, 'delayed on the way up and on the way down');
    s.destroy();
  }));

test('fault proxy: closes after every HTTP response although the server said keep-alive', async () => {
  let serverConnections = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(req.method === 'HEAD' ? undefined : 'body!'));
  });
  server.on('connection', () => serverConnections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    { closeAfterResponse: true },
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const method of ['GET', 'HEAD', 'PUT', 'GET']) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({ host: proxy.host, port: proxy.port, method, agent, path: '/x' }, resolve);
        req.on('error', reject);
        req.end(method === 'PUT' ? 'data' : undefined);
      });
      assert.equal(res.headers.connection, 'keep-alive');
      res.resume();
      await once(res, 'end');
      await new Promise((r) => setTimeout(r, 10)); // let the FIN arrive before the next request
    }
    assert.equal(proxy.stats.responseCloses, 4);
    assert.equal(serverConnections, 4);
  } finally {
    agent.destroy();
    await proxy.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('http framer: finds message ends across chunk splits, chunked bodies and bodiless responses', () => {
  const methods: string[] = [];
  const req = new HttpFramer('request', methods);
  const res = new HttpFramer('response', methods);
  const requests = Buffer.from(
    'HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nPUT /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n\r\n',
  );
  assert.deepEqual(req.push(requests.subarray(0, 10)), []);
  assert.equal(req.push(requests.subarray(10)).length, 3);
  assert.deepEqual(methods, ['HEAD', 'PUT', 'GET']);
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n';
  const put = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const get = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const all = Buffer.from(head + put + get);
  const ends: number[] = [];
  for (let i = 0; i < all.length; i += 7) for (const e of res.push(all.subarray(i, i + 7))) ends.push(i + e);
  assert.deepEqual(ends, [head.length, head.length + put.length, all.length]);
});
