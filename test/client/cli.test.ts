// hoard put / get / stat against a real `hoard serve` (spawnHoard), as a script would use
// them: digests on stdout, exit codes 0 (ok), 1 (miss or failure), 2 (usage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { digestOf, formatDigest } from '../../src/core/digest.ts';
import { MAIN, runNode, spawnHoard, type RunResult } from '../helpers/spawn-server.ts';
import { VERSION } from '../../src/server/start-server.ts';

function hoard(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return runNode([MAIN, ...args], { env });
}

test('hoard put/stat/get against hoard serve over HTTP: digests, verified download, trustworthy exit codes', async () => {
  const server = await spawnHoard([], { grpc: false });
  const dir = await mkdtemp(join(tmpdir(), 'hoard-cli-'));
  try {
    const a = randomBytes(100_000);
    const b = Buffer.from('hello hoard\n');
    await writeFile(join(dir, 'a'), a);
    await writeFile(join(dir, 'b'), b);
    const put = await hoard(['put', join(dir, 'a'), join(dir, 'b'), '--server', server.httpUrl]);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(put.stdout.trim().split('\n'), [
      `${formatDigest(digestOf(a))}  ${join(dir, 'a')}`,
      `${formatDigest(digestOf(b))}  ${join(dir, 'b')}`,
    ]);

    const absent = formatDigest(digestOf(Buffer.from('absent')));
    const stat = await hoard(['stat', formatDigest(digestOf(a)), absent, '--server', server.httpUrl]);
    assert.equal(stat.code, 1);
    assert.equal(stat.stdout, `present ${formatDigest(digestOf(a))}\nmissing ${absent}\n`);
    assert.equal((await hoard(['stat', formatDigest(digestOf(b)), '--server', server.httpUrl])).code, 0);

    const get = await hoard(['get', formatDigest(digestOf(a)), '--server', server.httpUrl, '-o', join(dir, 'out')]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(join(dir, 'out'))).equals(a));

    const miss = await hoard(['get', absent, '--server', server.httpUrl, '-o', join(dir, 'miss')]);
    assert.equal(miss.code, 1);
    assert.match(miss.stderr, /not found on http:\/\/127\.0\.0\.1:\d+/);
    await assert.rejects(readFile(join(dir, 'miss')));

    assert.equal((await hoard(['get', 'not-a-digest', '--server', server.httpUrl, '-o', join(dir, 'x')])).code, 2);
    assert.equal((await hoard(['put', '--server', server.httpUrl])).code, 2);
  } finally {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('hoard stat against a dead server: exit 1 quickly, message naming the server', async () => {
  const server = await spawnHoard([], { grpc: false });
  const url = server.httpUrl;
  await server.dispose();
  const t0 = Date.now();
  const r = await hoard(['stat', formatDigest(digestOf(Buffer.from('x'))), '--server', url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`cannot connect to ${url.replace(/[./]/g, '\\$&')}`));
  assert.ok(Date.now() - t0 < 5000);
});

test('usage errors exit 2 before anything touches the network: bad flags, unsupported schemes, unknown checks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-cli-'));
  try {
    await writeFile(join(dir, 'a'), 'a');
    const digest = formatDigest(digestOf(Buffer.from('a')));
    const cases = [
      ['put', join(dir, 'a'), '-j', '0', '--server', 'http://127.0.0.1:1'],
      ['put', join(dir, 'a'), '--server', 'ftp://x'],
      ['get', digest, '-o', join(dir, 'out'), '--server', 'ftp://x'],
      ['stat', digest, '--server', 'ftp://x'],
      ['check', '--server', 'ftp://x'],
      ['bench', '--server', 'ftp://x'],
      ['check', '--server', 'http://127.0.0.1:1', '--only', 'nope'],
    ];
    for (const args of cases) {
      const r = await hoard(args);
      assert.equal(r.code, 2, `hoard ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /error: /, args.join(' '));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hoard --version is the package version (not whatever npm put in the environment); --help names only the frontends that exist', async () => {
  const v = await hoard(['--version'], { ...process.env, npm_package_version: '9.9.9' });
  assert.equal(v.stdout.trim(), VERSION);
  const help = await hoard(['--help']);
  assert.match(help.stdout, /Bazel/);
  assert.doesNotMatch(help.stdout, /Turborepo|Nx|Gradle/);
});
