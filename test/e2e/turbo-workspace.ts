// Drives the real turbo (the devDependency) in a small salted npm workspace, for turbo.test.ts
// and two-servers.test.ts. Contracts:
// - the salt is in every package's inputs, so the first run is always cold; every build writes
//   the time it ran, so an identical output proves a restore, not a rebuild;
// - turbo hashes through git: the workspace is a committed repository (commitTurbo after an
//   edit), with turbo's own logs ignored so they never change a hash;
// - every run first wipes each local trace of earlier runs (wipeTurbo), so a hit can only come
//   from the remote cache, and is judged by turbo's own run summary.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/spawn-server.ts';
import { runCommand, tail } from './clients.ts';

export const TURBO = join(REPO_ROOT, 'node_modules', '.bin', 'turbo');
/** The workspace's packages; b depends on a. */
export const PACKAGES = ['a', 'b', 'c'] as const;

export interface TurboTask {
  readonly taskId: string;
  readonly hash: string;
  readonly cache: { readonly status: string; readonly source?: string };
}

export interface TurboRun {
  /** The tasks of turbo's run summary. */
  readonly tasks: readonly TurboTask[];
  /** Task id -> `STATUS SOURCE` from the run summary, trimmed: 'HIT REMOTE', 'MISS'. */
  readonly statuses: Readonly<Record<string, string>>;
  /** Package -> its dist/out.txt. */
  readonly outputs: ReadonlyMap<string, string>;
  readonly log: string;
}

export interface TurboWorkspaceOptions {
  /** turbo.json's remoteCache.signature: turbo signs artifacts and verifies them before restoring. */
  readonly signed?: boolean;
}

export interface TurboRunOptions {
  /** The remote cache's base URL (--api). */
  readonly api: string;
  readonly token: string;
  readonly team: string;
  /** TURBO_REMOTE_CACHE_SIGNATURE_KEY, for a workspace made with `signed`. */
  readonly signatureKey?: string;
  /** More context for a failed run's message, e.g. the server's output. */
  readonly context?: () => string;
}

const git = (cwd: string, ...args: string[]) =>
  runCommand('git', ['-c', 'user.email=e2e@hoard.test', '-c', 'user.name=e2e', ...args], cwd);

/** Three packages (b depends on a), each build writing its salt and the time it ran; committed. */
export async function makeTurboWorkspace(
  dir: string,
  salt: string,
  options: TurboWorkspaceOptions = {},
): Promise<void> {
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
      ...(options.signed === true ? { remoteCache: { signature: true } } : {}),
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
        scripts: { build: 'mkdir -p dist && (cat salt.txt; date +%s%N) > dist/out.txt' },
      }),
    );
  }
  const r = await git(dir, 'init', '-q');
  assert.equal(r.code, 0, `git init failed:\n${r.output}`);
  await commitTurbo(dir);
}

/** Commits every change in the workspace, so turbo hashes it. */
export async function commitTurbo(dir: string): Promise<void> {
  const add = await git(dir, 'add', '-A');
  assert.equal(add.code, 0, `git add failed:\n${add.output}`);
  const r = await git(dir, 'commit', '-q', '-m', 'e2e');
  assert.equal(r.code, 0, `git commit failed:\n${r.output}`);
}

/** Removes every local trace of earlier runs: turbo's caches, its logs and summaries, the outputs. */
export async function wipeTurbo(dir: string): Promise<void> {
  await rm(join(dir, '.turbo'), { recursive: true, force: true });
  await rm(join(dir, 'node_modules', '.cache', 'turbo'), { recursive: true, force: true });
  for (const p of PACKAGES) await rm(join(dir, 'packages', p, 'dist'), { recursive: true, force: true });
}

/** Wipes the workspace, runs `turbo run build --summarize` against the remote cache, and reads the summary. */
export async function runTurbo(dir: string, options: TurboRunOptions): Promise<TurboRun> {
  await wipeTurbo(dir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
    TURBO_NO_UPDATE_NOTIFIER: '1',
    ...(options.signatureKey !== undefined ? { TURBO_REMOTE_CACHE_SIGNATURE_KEY: options.signatureKey } : {}),
  };
  const args = ['run', 'build', '--api', options.api, '--token', options.token, '--team', options.team, '--summarize'];
  const r = await runCommand(TURBO, args, dir, env);
  const context = () => (options.context === undefined ? '' : `\n${options.context()}`);
  assert.equal(r.code, 0, `turbo run build failed:\n${tail(r.output)}${context()}`);
  const runs = join(dir, '.turbo', 'runs');
  const [summary] = (await readdir(runs)).filter((f) => f.endsWith('.json'));
  assert.ok(summary !== undefined, `no run summary\n${tail(r.output)}`);
  const { tasks } = JSON.parse(await readFile(join(runs, summary), 'utf8')) as { tasks: TurboTask[] };
  const statuses = Object.fromEntries(tasks.map((t) => [t.taskId, `${t.cache.status} ${t.cache.source ?? ''}`.trim()]));
  const outputs = new Map<string, string>();
  for (const p of PACKAGES) outputs.set(p, await readFile(join(dir, 'packages', p, 'dist', 'out.txt'), 'utf8'));
  return { tasks, statuses, outputs, log: r.output };
}
