// `hoard check --protocol turbo` against turborepo-remote-cache 2.12 (the npm peer) and
// against hoard, both secured by a bearer token given with --token: hoard passes every
// check; the peer passes the round trips and the broken uploads (it buffers whole bodies
// before storing), fails artifact-metadata without its signature key (it then drops
// x-artifact-tag, so turbo with signing gets no hit), is info with it (only the duration is
// missing: hits work) and has no batch query (unsupported, not a failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeAccessFixtures } from '../helpers/access-fixtures.ts';
import { MAIN, runNode, spawnHoard } from '../helpers/spawn-server.ts';
import { startTurborepoRemoteCache } from '../helpers/turborepo-remote-cache.ts';
import type { CheckReport } from '../../src/check/run-checks.ts';

async function turboCheck(
  server: string,
  token: string,
  extra: readonly string[] = [],
): Promise<{ code: number; stdout: string; report: CheckReport }> {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-check-turbo-'));
  try {
    const json = join(dir, 'report.json');
    const r = await runNode(
      [
        MAIN,
        'check',
        '--protocol',
        'turbo',
        '--server',
        server,
        '--token',
        token,
        '--scale',
        '0.3',
        '--json',
        json,
        ...extra,
      ],
      { timeoutMs: 60_000 },
    );
    assert.ok(!`${r.stdout}${r.stderr}`.includes(token), 'the token was printed');
    assert.equal(r.stderr, '');
    return { code: r.code, stdout: r.stdout, report: JSON.parse(await readFile(json, 'utf8')) as CheckReport };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const verdicts = (report: CheckReport): Record<string, string> =>
  Object.fromEntries(report.results.map((r) => [r.id, r.status]));

test('turborepo-remote-cache: round trips and broken uploads pass, metadata fails, batch query unsupported; exit 1', async () => {
  const token = `trc-${randomBytes(12).toString('hex')}`;
  const peer = await startTurborepoRemoteCache({ token });
  try {
    const { code, stdout, report } = await turboCheck(peer.url, token);
    assert.deepEqual(verdicts(report), {
      'round-trip': 'pass',
      'artifact-metadata': 'fail',
      'batch-query': 'unsupported',
      status: 'pass',
      events: 'pass',
      'same-key': 'pass',
      'cut-uploads': 'pass',
      'short-body': 'pass',
      'auth-refusal': 'pass',
    });
    const metadata = report.results.find((r) => r.id === 'artifact-metadata')!;
    assert.match(metadata.detail, /GET x-artifact-duration missing.*HEAD x-artifact-tag missing/);
    assert.match(report.results.find((r) => r.id === 'batch-query')!.detail, /^HTTP 404: turbo falls back/);
    assert.match(metadata.detail, /turbo with signing on refuses every hit/);
    assert.equal(code, 1);
    assert.match(stdout, /\(turbo\): FAILED: 7 passed, 1 failed, 1 unsupported, 0 not applicable/);
  } finally {
    await peer.dispose();
  }
});

test('turborepo-remote-cache with its signature key: the tag comes back, the missing duration is info; exit 0', async () => {
  const token = `trc-${randomBytes(12).toString('hex')}`;
  const peer = await startTurborepoRemoteCache({
    token,
    env: { TURBO_REMOTE_CACHE_SIGNATURE_KEY: randomBytes(16).toString('hex') },
  });
  try {
    const { code, report } = await turboCheck(peer.url, token, ['--only', 'artifact-metadata']);
    assert.deepEqual(
      report.results.map((r) => [r.id, r.status, r.detail]),
      [
        [
          'artifact-metadata',
          'info',
          'GET x-artifact-duration missing, HEAD x-artifact-duration missing (turbo then reports 0 ms saved; hits still work)',
        ],
      ],
    );
    assert.equal(code, 0);
  } finally {
    await peer.dispose();
  }
});

test('hoard serve with an access file: every turbo check passes, the wrong token is refused with 401; exit 0', async () => {
  const fixtures = await makeAccessFixtures();
  const hoard = await spawnHoard(['--access-file', fixtures.accessFile], { grpc: false });
  try {
    const { code, stdout, report } = await turboCheck(hoard.httpUrl, fixtures.tokens['writer']!);
    assert.deepEqual(
      report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.status}: ${r.detail}`),
      [],
    );
    assert.deepEqual(
      report.results.map((r) => r.id),
      [
        'round-trip',
        'artifact-metadata',
        'batch-query',
        'status',
        'events',
        'same-key',
        'cut-uploads',
        'short-body',
        'auth-refusal',
      ],
    );
    assert.equal(report.results.find((r) => r.id === 'auth-refusal')!.detail, 'a wrong Bearer credential: 401');
    assert.equal(code, 0);
    assert.match(stdout, /\(turbo\): OK: 9 passed, 0 failed, 0 not applicable/);
  } finally {
    await hoard.dispose();
    await fixtures.close();
  }
});
