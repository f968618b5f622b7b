// End-to-end: the real Nx (the nx devDependency) with its self-hosted remote cache pointed
// at `hoard serve`, in the `main` namespace (the URL's prefix), with bearer tokens. A cold
// run fills the cache; after every bit of local state is wiped (.nx/cache,
// .nx/workspace-data, the outputs) a second run must take every task from hoard
// (`[remote cache]` on each task line) and restore byte-identical outputs (they hold random
// bytes, so a task that ran again would differ). A read-only token then gets every hit,
// and its run over new inputs succeeds while storing nothing (Nx is told 403, which it
// accepts quietly): a writer's run over those inputs afterwards still misses.
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashBytes } from '../../src/core/digest.ts';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { REPO_ROOT, spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { findClient, newSalt, runCommand, tail, tempDir } from './clients.ts';

const BIN = join(REPO_ROOT, 'node_modules', '.bin');
const NX = join(BIN, 'nx');
const nx = findClient(NX, ['--version'], 'npm ci installs the nx devDependency');
const PROJECTS = ['alpha', 'beta'];
/** Every task of `nx run-many -t build pack`: the cache must answer each one. */
const TASKS = PROJECTS.flatMap((p) => [`${p}:build`, `${p}:pack`]);
const FIXTURE = join(REPO_ROOT, 'test', 'e2e', 'workspaces', 'nx');

interface NxRun {
  readonly output: string;
  /** Task id -> whether its line says `[remote cache]`. */
  readonly remote: ReadonlyMap<string, boolean>;
  /** Output file (relative to the workspace) -> sha256. */
  readonly outputs: ReadonlyMap<string, string>;
}

describe('Nx self-hosted remote cache against hoard', { skip: nx.skip }, () => {
  let hoard: HoardProcess;
  let fx: AccessFixtures;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ws: string;

  before(async () => {
    tmp = await tempDir('hoard-e2e-nx-');
    fx = await makeAccessFixtures();
    hoard = await spawnHoard(['--access-file', fx.accessFile], { grpc: false });
    ws = join(tmp.path, 'ws');
    await cp(FIXTURE, ws, { recursive: true });
    // Nx runs from the workspace's own node_modules.
    await symlink(join(REPO_ROOT, 'node_modules'), join(ws, 'node_modules'), 'dir');
  });
  after(async () => {
    await hoard?.dispose();
    await tmp?.remove();
    await fx?.close();
  });

  /** Runs every task with only the remote cache to answer from: local state is wiped first. */
  async function run(label: string, token: string): Promise<NxRun> {
    for (const dir of ['.nx', 'dist']) await rm(join(ws, dir), { recursive: true, force: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // nx's launcher is `#!/usr/bin/env node`: the repository's Node, not the system's.
      PATH: `${BIN}:${process.env['PATH'] ?? ''}`,
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      CI: 'true',
      NX_TUI: 'false',
      FORCE_COLOR: '0',
      NO_COLOR: '1',
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: `${hoard.httpUrl}/main`,
      NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token,
    };
    const r = await runCommand(NX, ['run-many', '-t', 'build', 'pack'], ws, env);
    // eslint-disable-next-line no-control-regex
    const output = r.output.replace(/\u001b\[[0-9;]*m/g, '');
    assert.equal(r.code, 0, `nx (${label}) failed:\n${tail(output)}\n--- hoard:\n${tail(hoard.output(), 20)}`);
    const remote = new Map<string, boolean>();
    for (const line of output.split('\n')) {
      // `✔  nx run alpha:build  [remote cache]`, the summary line of each task.
      const m = /^\s*[✔✖]\s+nx run (\S+:\S+)(.*)$/.exec(line);
      if (m !== null) remote.set(m[1]!, m[2]!.includes('[remote cache]'));
    }
    assert.deepEqual([...remote.keys()].sort(), [...TASKS].sort(), `nx (${label}): task lines\n${tail(output)}`);
    return { output, remote, outputs: await hashTree(join(ws, 'dist'), ws) };
  }

  const setInputs = async (salt: string) => {
    for (const p of PROJECTS) await writeFile(join(ws, 'libs', p, 'input.txt'), `input of ${p} ${salt}\n`);
  };
  const hits = (r: NxRun) => [...r.remote.values()].filter(Boolean).length;

  test('the second run takes every task from hoard with identical outputs; a read-only token reads and writes nothing', async (t) => {
    const started = performance.now();
    const writer = fx.tokens['writer']!;
    const reader = fx.tokens['reader']!;
    await setInputs(newSalt('nx'));

    const cold = await run('cold', writer);
    assert.equal(hits(cold), 0, `cold run hit the cache (salt not effective?)\n${tail(cold.output)}`);
    assert.equal(cold.outputs.size, PROJECTS.length * 3, 'outputs of the cold run');

    const warm = await run('warm', writer);
    for (const task of TASKS)
      assert.ok(warm.remote.get(task), `warm run: ${task} not from the remote cache\n${tail(warm.output)}`);
    assert.deepEqual(warm.outputs, cold.outputs, 'outputs restored from hoard differ from the built ones');

    const readOnly = await run('read-only, warm', reader);
    assert.equal(hits(readOnly), TASKS.length, `read-only token: not all hits\n${tail(readOnly.output)}`);
    assert.deepEqual(readOnly.outputs, cold.outputs);

    // New inputs: the read-only run misses, builds, is refused every store (403), succeeds.
    await setInputs(newSalt('nx-ro'));
    const refused = await run('read-only, new inputs', reader);
    assert.equal(hits(refused), 0);
    const after = await run('writer after the read-only run', writer);
    assert.equal(hits(after), 0, `the read-only token stored something\n${tail(after.output)}`);
    t.diagnostic(`5 nx runs: ${Math.round(performance.now() - started)} ms`);
  });
});

/** sha256 of every file below `dir`, keyed by its path relative to `base`. */
async function hashTree(dir: string, base: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(base, p), hashBytes(await readFile(p)));
    }
  };
  await mkdir(dir, { recursive: true });
  await walk(dir);
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}
