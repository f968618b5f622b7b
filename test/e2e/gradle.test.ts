// End-to-end: the real Gradle (Debian 4.4.1) with its HTTP build cache pointed at `hoard
// serve` (`/main/gradle/`: the `main` namespace), Basic credentials, and no local build
// cache. A cold build fills the cache; after the build directory and the project's local
// state are wiped, a second build must take every cacheable task from hoard (`FROM-CACHE` on
// its task line) and restore identical outputs (one task writes random bytes, so a task that
// ran again would differ). Read-only credentials then get every hit (push = false), and a
// build with read-only credentials and push = true over new inputs still succeeds while
// storing nothing: a writer's build over those inputs afterwards still misses.
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashBytes } from '../../src/core/digest.ts';
import { makeAccessFixtures, USERS, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { REPO_ROOT, spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { findClient, newSalt, runCommand, tail, tempDir } from './clients.ts';

const gradle = findClient('gradle', ['--version'], 'apt-get install gradle');
/** Gradle 4.4's cacheable tasks of `gradle testClasses greeting`: the cache must answer each one. */
const TASKS = [':compileJava', ':compileTestJava', ':greeting'];
const FIXTURE = join(REPO_ROOT, 'test', 'e2e', 'workspaces', 'gradle');

interface GradleRun {
  readonly output: string;
  /** Task path -> whether its line says FROM-CACHE. */
  readonly fromCache: ReadonlyMap<string, boolean>;
  /** Output file (relative to the project) -> sha256. */
  readonly outputs: ReadonlyMap<string, string>;
}

describe('Gradle HTTP build cache against hoard', { skip: gradle.skip }, () => {
  let hoard: HoardProcess;
  let fx: AccessFixtures;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let project: string;

  before(async () => {
    tmp = await tempDir('hoard-e2e-gradle-');
    fx = await makeAccessFixtures();
    hoard = await spawnHoard(['--htpasswd-file', fx.htpasswdFile, '--access-file', fx.accessFile], { grpc: false });
    project = join(tmp.path, 'project');
    await cp(FIXTURE, project, { recursive: true });
    // One daemon for the five builds (a JVM start each would cost more than the builds);
    // it is stopped in `after`, and idles out within a minute if the test dies first.
    await mkdir(gradleHome(), { recursive: true });
    await writeFile(join(gradleHome(), 'gradle.properties'), 'org.gradle.daemon.idletimeout=60000\n');
  });
  after(async () => {
    if (project !== undefined) await runCommand('gradle', ['--stop'], project, gradleEnv());
    await hoard?.dispose();
    await tmp?.remove();
    await fx?.close();
  });

  const gradleHome = () => join(tmp.path, 'gradle-home');
  const gradleEnv = () => ({ ...process.env, GRADLE_USER_HOME: gradleHome() });

  /** Builds with only the remote cache to answer from: the build directory and local state are wiped first. */
  async function build(label: string, user: keyof typeof USERS, push: boolean): Promise<GradleRun> {
    for (const dir of ['build', '.gradle']) await rm(join(project, dir), { recursive: true, force: true });
    const settings = [
      "rootProject.name = 'hoard-e2e'",
      'buildCache {',
      '  local { enabled = false }',
      '  remote(HttpBuildCache) {',
      `    url = '${hoard.httpUrl}/main/gradle/'`,
      `    push = ${push}`,
      `    credentials { username = '${user}'; password = '${USERS[user]}' }`,
      '  }',
      '}',
      '',
    ].join('\n');
    await writeFile(join(project, 'settings.gradle'), settings);
    const args = ['--daemon', '--build-cache', '--console=plain', '--stacktrace', 'testClasses', 'greeting'];
    const r = await runCommand('gradle', args, project, gradleEnv());
    assert.equal(r.code, 0, `gradle (${label}) failed:\n${tail(r.output)}\n--- hoard:\n${tail(hoard.output(), 20)}`);
    const fromCache = new Map<string, boolean>();
    for (const line of r.output.split('\n')) {
      const m = /^(:\S+)(.*)$/.exec(line.trim());
      if (m !== null && TASKS.includes(m[1]!)) fromCache.set(m[1]!, m[2]!.includes('FROM-CACHE'));
    }
    assert.deepEqual(
      [...fromCache.keys()].sort(),
      [...TASKS].sort(),
      `gradle (${label}): task lines\n${tail(r.output)}`,
    );
    return { output: r.output, fromCache, outputs: await hashTree(join(project, 'build'), project) };
  }

  const setInputs = async (salt: string) => {
    await writeFile(join(project, 'salt.txt'), `${salt}\n`);
    const java = `package demo;\n\nfinal class Salt {\n  static final String VALUE = "${salt}";\n\n  private Salt() {}\n}\n`;
    await writeFile(join(project, 'src', 'main', 'java', 'demo', 'Salt.java'), java);
  };
  const hits = (r: GradleRun) => [...r.fromCache.values()].filter(Boolean).length;

  test('the second build takes every cacheable task from hoard with identical outputs; read-only credentials read and store nothing', async (t) => {
    const started = performance.now();
    await setInputs(newSalt('gradle'));

    const cold = await build('cold', 'alice', true);
    assert.equal(hits(cold), 0, `cold build hit the cache (salt not effective?)\n${tail(cold.output)}`);
    assert.ok(cold.outputs.has('build/greeting.txt'), 'outputs of the cold build');

    const warm = await build('warm', 'alice', true);
    for (const task of TASKS)
      assert.ok(warm.fromCache.get(task), `warm build: ${task} not FROM-CACHE\n${tail(warm.output)}`);
    assert.deepEqual(warm.outputs, cold.outputs, 'outputs restored from hoard differ from the built ones');

    const reader = await build('read-only, push = false', 'reader', false);
    assert.equal(hits(reader), TASKS.length, `read-only credentials: not all FROM-CACHE\n${tail(reader.output)}`);
    assert.deepEqual(reader.outputs, cold.outputs);

    // New inputs, read-only credentials that try to push: the stores are refused, the build passes.
    await setInputs(newSalt('gradle-ro'));
    const pushing = await build('read-only, push = true', 'reader', true);
    assert.equal(hits(pushing), 0);
    assert.match(pushing.output, /Could not store entry/, 'the refused store is reported to the user');
    const after = await build('writer after the read-only build', 'alice', true);
    assert.equal(hits(after), 0, `the read-only credentials stored something\n${tail(after.output)}`);
    t.diagnostic(`5 gradle builds: ${Math.round(performance.now() - started)} ms`);
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
