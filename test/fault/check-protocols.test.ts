// `hoard check --protocol nx|gradle|webdav` against hoard serve (secured: a bearer token for
// Nx, Basic in the URL for Gradle and WebDAV, an entry limit for Gradle's 413): every check
// passes, so the credentials of the client flags reach every check. And against a stand-in
// Nx cache with one planted bug at a time: exactly the check for that bug fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { makeAccessFixtures, USERS } from '../helpers/access-fixtures.ts';
import { MAIN, runNode, spawnHoard } from '../helpers/spawn-server.ts';
import { runChecks } from '../../src/check/run-checks.ts';

test('hoard serve, secured: every nx, gradle and webdav check passes with the flags credentials; exit 0', async () => {
  const fixtures = await makeAccessFixtures();
  const hoard = await spawnHoard(
    ['--access-file', fixtures.accessFile, '--htpasswd-file', fixtures.htpasswdFile, '--max-blob-size', '20MB'],
    { grpc: false },
  );
  try {
    const token = fixtures.tokens['writer']!;
    const basic = hoard.httpUrl.replace('http://', `http://alice:${USERS.alice}@`);
    for (const [protocol, server, extra, checks] of [
      ['nx', hoard.httpUrl, ['--token', token], 6],
      ['gradle', `${basic}/gradle/`, [], 7],
      ['webdav', `${basic}/sccache`, [], 11],
    ] as const) {
      const r = await runNode([MAIN, 'check', '--protocol', protocol, '--server', server, ...extra, '--scale', '0.3'], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, new RegExp(`\\(${protocol}\\): OK: ${checks} passed, 0 failed, 0 not applicable`));
      assert.match(r.stdout, /auth-refusal +pass .* a wrong (Bearer|Basic) credential: 401/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(token) && !r.stdout.includes(USERS.alice), 'a secret was printed');
    }
  } finally {
    await hoard.dispose();
    await fixtures.close();
  }
});

interface Bugs {
  /** PUT of a new hash answers this instead of 200 (the spec's 202). */
  readonly putStatus?: number;
  /** A second PUT of a hash replaces it with 200 instead of 409. */
  readonly rePutReplaces?: boolean;
  /** A PUT whose body ended early stores what arrived. */
  readonly publishPartial?: boolean;
  /** 401 answered as `text/plain; charset=utf-8`, which Nx does not take for text/plain. */
  readonly charset401?: boolean;
}

/** A small Nx cache (token required) with the given bugs planted. */
async function standInNxCache(token: string, bugs: Bugs = {}): Promise<{ url: string; close(): Promise<void> }> {
  const entries = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': bugs.charset401 ? 'text/plain; charset=utf-8' : 'text/plain' });
      res.end('bad token');
      return;
    }
    const key = req.url ?? '';
    if (req.method === 'GET') {
      const hit = entries.get(key);
      res.writeHead(hit ? 200 : 404).end(hit);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('close', () => {
      if (!req.complete && bugs.publishPartial) entries.set(key, Buffer.concat(chunks));
    });
    req.on('end', () => {
      if (entries.has(key) && !bugs.rePutReplaces) return void res.writeHead(409).end('exists');
      entries.set(key, Buffer.concat(chunks));
      res.writeHead(bugs.putStatus ?? 200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

test('a correct stand-in Nx cache passes every nx check; each planted bug fails exactly its check', async () => {
  const token = 'stand-in-token';
  const cases: [Bugs, string[], RegExp][] = [
    [{}, [], /./],
    [
      { putStatus: 202 },
      ['round-trip', 're-put', 'same-key', 'cut-uploads', 'short-body'],
      /PUT answered HTTP 202 \(Nx takes exactly 200\)/,
    ],
    [{ rePutReplaces: true }, ['re-put'], /^200, and the entry was replaced/],
    [{ publishPartial: true }, ['cut-uploads', 'short-body'], /GET of an entry never stored whole answered 200/],
    [
      { charset401: true },
      ['auth-refusal'],
      /Content-Type text\/plain; charset=utf-8: Nx then reports "Misconfigured"/,
    ],
  ];
  for (const [bugs, failing, why] of cases) {
    const server = await standInNxCache(token, bugs);
    try {
      const report = await runChecks({ server: server.url, protocol: 'nx', clientOptions: { token }, scale: 0.3 });
      const failed = report.results.filter((r) => r.status === 'fail');
      assert.deepEqual(
        failed.map((r) => r.id),
        failing,
        `${JSON.stringify(bugs)}: ${JSON.stringify(report.results.map((r) => [r.id, r.status, r.detail]))}`,
      );
      if (failed.length) assert.match(failed[0]!.detail, why);
      assert.equal(report.ok, failing.length === 0);
      assert.equal(report.passed + failed.length, report.results.length);
    } finally {
      await server.close();
    }
  }
});

/** A peer on raw TCP: `answer(method)` is written to each connection's first request head. */
async function rawPeer(
  answer: (method: string) => string | undefined,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let head = '';
    s.on('data', (c: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const out = answer(head.split(' ')[0] ?? '');
      if (out !== undefined) s.write(out);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('hostile peers: silence, garbage and endless bodies end each check quickly with a verdict, never a hang', async () => {
  const clientOptions = { idleTimeoutMs: 500 };
  const silent = await rawPeer(() => undefined);
  try {
    await assert.rejects(runChecks({ server: silent.url, protocol: 'nx', clientOptions }), /idle timeout/);
  } finally {
    await silent.close();
  }
  // Answers its first GET (the preflight) properly, then garbage to everything else.
  const ok = 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';
  const garbage = await rawPeer((m) => (m === 'GET' ? ok : 'SSH-2.0-not-http\r\n\r\n'));
  try {
    const report = await runChecks({
      server: `${garbage.url}/gradle/`,
      protocol: 'gradle',
      only: ['oversize', 'expect-continue', 'round-trip'],
      clientOptions,
    });
    const byId = Object.fromEntries(report.results.map((r) => [r.id, r]));
    assert.match(byId['oversize']!.detail, /not HTTP\/1\.1: "SSH-2\.0-not-http/);
    assert.equal(byId['round-trip']!.status, 'fail');
    assert.ok(
      report.results.every((r) => r.ms < 5000),
      JSON.stringify(report.results),
    );
  } finally {
    await garbage.close();
  }
  // An endless body: the probe stops at its cap instead of buffering without end.
  const endless = http.createServer((_req, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(1024 * 1024);
    const more = (): void => {
      while (res.write(chunk));
    };
    res.on('drain', more);
    more();
  });
  endless.listen(0, '127.0.0.1');
  await once(endless, 'listening');
  try {
    const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}`;
    await assert.rejects(runChecks({ server: url, protocol: 'turbo', clientOptions }), /response larger than/);
  } finally {
    endless.closeAllConnections();
    await new Promise((resolve) => endless.close(resolve));
  }
});

test('a server echoing the Authorization it got: the report shows *** in place of the token and the password', async () => {
  const token = 'echoed-secret-token';
  const echo = http.createServer((req, res) => {
    req.resume();
    res
      .writeHead(req.url === '/' ? 404 : 500, { 'content-type': 'text/plain' })
      .end(`got ${req.headers.authorization}`);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  try {
    const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const nx = await runChecks({ server: url, protocol: 'nx', only: ['re-put'], clientOptions: { token } });
    assert.match(nx.results[0]!.detail, /HTTP 500: got Bearer \*\*\*/);
    const basic = `http://alice:${USERS.alice}@${url.slice('http://'.length)}/gradle/`;
    const gradle = await runChecks({ server: basic, protocol: 'gradle', only: ['round-trip'] });
    assert.match(gradle.results[0]!.detail, /HTTP 500: got Basic \*\*\*/);
    assert.equal(gradle.server, `${url}/gradle/`);
    const all = JSON.stringify([nx, gradle]);
    assert.ok(!all.includes(token) && !all.includes(USERS.alice), all);
  } finally {
    echo.closeAllConnections();
    await new Promise((resolve) => echo.close(resolve));
  }
});
