// `hoard check --protocol nx|gradle|webdav` against hoard serve (secured: a bearer token for
// Nx, Basic in the URL for Gradle and WebDAV, an entry limit for Gradle's 413): every check
// passes, so the credentials of the client flags reach every check. And against a stand-in
// Nx cache with one planted bug at a time: exactly the check for that bug fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
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
