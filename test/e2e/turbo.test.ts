// End-to-end: the real turbo (the devDependency) against `hoard serve` with an access file. A
// cold run fills the cache; a second run, with every local trace of the first wiped, must take
// every task from hoard: proven by turbo's own run summary (`cache.status` HIT, `source`
// REMOTE for each task) and identical outputs, since turbo quietly runs tasks itself when its
// remote cache fails. Also with signed artifacts (turbo verifies x-artifact-tag before it
// restores), and with a read-only token, which gets hits and stores nothing.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { REPO_ROOT, spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { rawRequest } from '../helpers/test-server.ts';
import { findClient, newSalt, runCommand, tail, tempDir } from './clients.ts';

const TURBO = join(REPO_ROOT, 'node_modules', '.bin', 'turbo');
const turbo = findClient(TURBO, ['--version'], 'npm install (turbo is a devDependency)');
const PACKAGES = ['a', 'b', 'c'] as const;
// HMAC-SHA256 key; turbo warns about keys under 32 bytes.
const SIGNATURE_KEY = 'hoard-e2e-signature-key-0123456789abcdef';

interface TaskSummary {
  readonly taskId: string;
  readonly hash: string;
  readonly cache: { readonly status: string; readonly source?: string };
}

interface Run {
  readonly tasks: readonly TaskSummary[];
  readonly outputs: ReadonlyMap<string, string>;
  readonly log: string;
}

const git = (cwd: string, ...args: string[]) =>
  runCommand('git', ['-c', 'user.email=e2e@hoard.test', '-c', 'user.name=e2e', ...args], cwd);

/** A workspace of three packages (b depends on a), each build writing a file that differs per run. */
async function makeWorkspace(dir: string, salt: string, signed: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  const json = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;
  await writeFile(
    join(dir, 'package.json'),
    json({ name: 'hoard-e2e', private: true, packageManager: 'npm@10.0.0', workspaces: ['packages/*'] }),
  );
  await writeFile(
    join(dir, 'turbo.json'),
    json({
      $schema: 'https://turborepo.com/schema.json',
      ...(signed ? { remoteCache: { signature: true } } : {}),
      tasks: { build: { dependsOn: ['^build'], outputs: ['dist/**'] } },
    }),
  );
  // turbo hashes through git; its own logs under .turbo must not change the hash.
  await writeFile(join(dir, '.gitignore'), '.turbo\nnode_modules\ndist\n');
  for (const p of PACKAGES) {
    await mkdir(join(dir, 'packages', p), { recursive: true });
    await writeFile(join(dir, 'packages', p, 'salt.txt'), `${salt}\n`);
    await writeFile(
      join(dir, 'packages', p, 'package.json'),
      json({
        name: p,
        version: '1.0.0',
        ...(p === 'b' ? { dependencies: { a: '*' } } : {}),
        // The output differs on every execution: an identical output proves a restore.
        scripts: { build: `mkdir -p dist && (cat salt.txt; date +%s%N) > dist/out.txt` },
      }),
    );
  }
  await git(dir, 'init', '-q');
  await commit(dir);
}

async function commit(dir: string): Promise<void> {
  await git(dir, 'add', '-A');
  const r = await git(dir, 'commit', '-q', '-m', 'e2e');
  assert.equal(r.code, 0, r.output);
}

/** Removes every local trace of earlier runs: turbo's caches, its logs and summaries, the outputs. */
async function wipe(dir: string): Promise<void> {
  await rm(join(dir, '.turbo'), { recursive: true, force: true });
  await rm(join(dir, 'node_modules', '.cache', 'turbo'), { recursive: true, force: true });
  for (const p of PACKAGES) await rm(join(dir, 'packages', p, 'dist'), { recursive: true, force: true });
}

describe('turbo against hoard', { skip: turbo.skip }, () => {
  let fx: AccessFixtures;
  let hoard: HoardProcess;
  let tmp: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    tmp = await tempDir('hoard-e2e-turbo-');
    fx = await makeAccessFixtures();
    hoard = await spawnHoard(['--access-file', fx.accessFile], { grpc: false });
  });
  after(async () => {
    await hoard?.dispose();
    await fx?.close();
    await tmp?.remove();
  });

  async function build(dir: string, token: string, team: string, signed = false): Promise<Run> {
    await wipe(dir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TURBO_TELEMETRY_DISABLED: '1',
      DO_NOT_TRACK: '1',
      TURBO_NO_UPDATE_NOTIFIER: '1',
      ...(signed ? { TURBO_REMOTE_CACHE_SIGNATURE_KEY: SIGNATURE_KEY } : {}),
    };
    const args = ['run', 'build', '--api', hoard.httpUrl, '--token', token, '--team', team, '--summarize'];
    const r = await runCommand(TURBO, args, dir, env);
    assert.equal(r.code, 0, tail(r.output));
    const runs = join(dir, '.turbo', 'runs');
    const [summary] = (await readdir(runs)).filter((f) => f.endsWith('.json'));
    assert.ok(summary !== undefined, `no run summary\n${tail(r.output)}`);
    const { tasks } = JSON.parse(await readFile(join(runs, summary), 'utf8')) as { tasks: TaskSummary[] };
    const outputs = new Map<string, string>();
    for (const p of PACKAGES) outputs.set(p, await readFile(join(dir, 'packages', p, 'dist', 'out.txt'), 'utf8'));
    return { tasks, outputs, log: r.output };
  }

  const statuses = (run: Run) =>
    Object.fromEntries(run.tasks.map((t) => [t.taskId, `${t.cache.status} ${t.cache.source ?? ''}`.trim()]));
  const artifactHead = (hash: string, team: string) =>
    rawRequest(hoard.httpUrl, 'HEAD', `/v8/artifacts/${hash}?slug=${team}`, undefined, {
      authorization: `Bearer ${fx.tokens['writer']!}`,
    });

  for (const signed of [false, true]) {
    test(`${signed ? 'signed artifacts: ' : ''}the second run takes every task from hoard, outputs identical`, async () => {
      const dir = join(tmp.path, signed ? 'signed' : 'plain');
      const team = signed ? 'signed-team' : 'plain-team';
      await makeWorkspace(dir, newSalt('turbo'), signed);
      const writer = fx.tokens['writer']!;

      const cold = await build(dir, writer, team, signed);
      assert.equal(cold.tasks.length, PACKAGES.length);
      for (const t of cold.tasks) assert.equal(t.cache.status, 'MISS', `${t.taskId} cold\n${tail(cold.log)}`);

      const warm = await build(dir, writer, team, signed);
      assert.deepEqual(
        statuses(warm),
        Object.fromEntries(PACKAGES.map((p) => [`${p}#build`, 'HIT REMOTE'])),
        tail(warm.log),
      );
      assert.deepEqual(warm.outputs, cold.outputs);
      // The tag turbo signed with went into hoard and came back as it was sent.
      const stored = await artifactHead(cold.tasks[0]!.hash, team);
      assert.equal(stored.status, 200);
      if (signed) assert.match(String(stored.headers['x-artifact-tag']), /^[A-Za-z0-9+/]{43}=$/);
      else assert.equal(stored.headers['x-artifact-tag'], undefined);
      assert.match(String(stored.headers['x-artifact-duration']), /^\d+$/);
    });
  }

  test('a read-only token gets remote hits and stores nothing; the run still succeeds', async () => {
    const dir = join(tmp.path, 'read-only');
    const team = 'ro-team';
    await makeWorkspace(dir, newSalt('turbo-ro'), false);
    const seeded = await build(dir, fx.tokens['writer']!, team);

    // c changes: the reader misses it, runs it, and may not upload it.
    await writeFile(join(dir, 'packages', 'c', 'salt.txt'), `${newSalt('turbo-ro-c')}\n`);
    await commit(dir);
    const ro = await build(dir, fx.tokens['reader']!, team);
    assert.deepEqual(
      statuses(ro),
      { 'a#build': 'HIT REMOTE', 'b#build': 'HIT REMOTE', 'c#build': 'MISS' },
      tail(ro.log),
    );
    assert.equal(ro.outputs.get('a'), seeded.outputs.get('a'));
    assert.equal(ro.outputs.get('b'), seeded.outputs.get('b'));
    const c = ro.tasks.find((t) => t.taskId === 'c#build')!;
    assert.notEqual(c.hash, seeded.tasks.find((t) => t.taskId === 'c#build')!.hash);
    assert.equal((await artifactHead(c.hash, team)).status, 404, 'the reader stored nothing');
    // turbo tried, was refused, and said so without failing the run.
    assert.match(ro.log, /WARNING.*(permission_denied|403)/);
  });
});
