// The Dockerfile, without a Docker engine (none runs where the tests do): its final stage
// is small, unprivileged and drains on stop, its volume is the store directory and its
// ports are the ones it listens on; its command line is one `hoard serve` runs (from this
// checkout's bin/hoard.js, with the store and ports swapped for a test's), and its health
// check, run as written by Node 24, passes while that server serves and fails once it drains.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, matchesGlob } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../e2e/clients.ts';
import { MAIN, NODE_BIN, REPO_ROOT, runNode, spawnHoard } from '../helpers/spawn-server.ts';
import { SUITE_WORKERS } from '../helpers/test-server.ts';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The Dockerfile's stages, each its instructions (continuation lines joined, comments out). */
async function stages(): Promise<Instruction[][]> {
  const text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const out: Instruction[][] = [];
  for (const line of lines) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    assert.ok(m !== null, `not an instruction: ${line}`);
    const instruction = { keyword: m[1]!, args: m[2]!.trim() };
    if (instruction.keyword === 'FROM') out.push([]);
    assert.ok(out.length > 0, 'the Dockerfile starts with FROM');
    out.at(-1)!.push(instruction);
  }
  return out;
}

function only(stage: Instruction[], keyword: string): string {
  const found = stage.filter((i) => i.keyword === keyword);
  assert.equal(found.length, 1, `one ${keyword} in the final stage`);
  return found[0]!.args;
}

/** The final stage's facts the tests below rely on. */
async function finalStage() {
  const all = await stages();
  const last = all.at(-1)!;
  const entrypoint = JSON.parse(only(last, 'ENTRYPOINT')) as string[];
  const cmd = JSON.parse(only(last, 'CMD')) as string[];
  const health = /^(.*?)\bCMD\s+(\[.*\])$/.exec(only(last, 'HEALTHCHECK'));
  assert.ok(health !== null, 'HEALTHCHECK CMD in exec form');
  const flag = (name: string): string => {
    const i = entrypoint.lastIndexOf(name);
    assert.ok(i > 0, `the command line has ${name}`);
    return entrypoint[i + 1]!;
  };
  return {
    all,
    last,
    entrypoint,
    cmd,
    healthOptions: health[1]!,
    healthCommand: JSON.parse(health[2]!) as string[],
    dir: flag('--dir'),
    httpAddress: flag('--http-address'),
    grpcAddress: flag('--grpc-address'),
  };
}

test('the image is built from the packed package and runs hoard serve unprivileged on its volume', async () => {
  const f = await finalStage();
  assert.ok(f.all.length >= 2, 'multi-stage');
  const build = f.all.slice(0, -1).flat();
  assert.ok(build.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)));
  assert.ok(build.some((i) => i.keyword === 'RUN' && /\bnpm pack\b/.test(i.args)));
  assert.match(only(f.last, 'FROM'), /^node:24[-.\w]*slim\b/);
  const install = f.last.find((i) => i.keyword === 'RUN' && /\bnpm install\b/.test(i.args));
  assert.ok(install !== undefined && /--global\b/.test(install.args) && /--omit=dev\b/.test(install.args));
  assert.ok(!f.last.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)), 'no dev install in the image');

  const user = only(f.last, 'USER');
  assert.doesNotMatch(user, /^(root|0)(:|$)/, 'not root');
  assert.match(user, /^\d+(:\d+)?$/, 'numeric, so runAsNonRoot can check it');
  assert.deepEqual(f.entrypoint.slice(0, 2), ['hoard', 'serve']);
  assert.deepEqual(f.cmd, [], 'extra flags of docker run are appended to the serve command line');
  assert.equal(only(f.last, 'VOLUME'), f.dir, 'the volume is the store directory');
  assert.equal(only(f.last, 'STOPSIGNAL'), 'SIGTERM', 'hoard drains on SIGTERM');

  const http = /^0\.0\.0\.0:(\d+)$/.exec(f.httpAddress);
  const grpc = /^0\.0\.0\.0:(\d+)$/.exec(f.grpcAddress);
  assert.ok(http && grpc, 'both listeners on every interface of the container');
  assert.deepEqual(only(f.last, 'EXPOSE').split(/\s+/).sort(), [http[1]!, grpc[1]!].sort());
  assert.ok(
    f.healthCommand.join(' ').includes(`http://127.0.0.1:${http[1]}/readyz`),
    'checks /readyz on the HTTP port',
  );
  assert.match(f.healthOptions, /--timeout=\d+s/);

  // Every flag of the command line is one `hoard serve` knows.
  const help = await runNode([MAIN, 'serve', '--help']);
  for (const flag of f.entrypoint.filter((a) => a.startsWith('--')))
    assert.ok(help.stdout.includes(`${flag} `), `hoard serve has ${flag}`);
});

test('the build context keeps what npm ci and npm pack need and leaves local state out', async () => {
  const patterns = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const out of ['.git', 'node_modules', 'dist'])
    assert.ok(
      patterns.some((p) => matchesGlob(out, p)),
      `${out} is left out`,
    );
  // What the build reads, and what the package ships but for dist/, which the build makes.
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[] };
  const shipped = pkg.files.map((f) => f.replace(/\/$/, '')).filter((f) => f !== 'dist');
  const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', ...shipped];
  for (const path of needed) {
    for (const p of patterns) assert.ok(!matchesGlob(path, p), `${p} leaves out ${path}`);
  }
});

/** Runs the image's health check as written, with Node 24 and the test server's port. */
function healthCheck(command: readonly string[], httpPort: string, port: number): Promise<number> {
  assert.equal(command[0], 'node');
  const args = command.slice(1).map((a) => a.replaceAll(`127.0.0.1:${httpPort}`, `127.0.0.1:${port}`));
  return new Promise((resolve) => {
    execFile(NODE_BIN, args, { timeout: 15_000 }, (err) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve(typeof code === 'number' ? code : -1);
    });
  });
}

test(
  "the image's command line serves, and its health check follows it through a drain",
  { timeout: 60_000 },
  async () => {
    const f = await finalStage();
    const httpPort = f.httpAddress.split(':')[1]!;
    const work = await tempDir('hoard-docker-');
    // The serve flags as the image has them, then the test's store, ports and threads.
    const swapped = f.entrypoint.slice(2).map((a, i, all) => {
      if (all[i - 1] === '--dir') return join(work.path, 'store');
      if (all[i - 1] === '--http-address' || all[i - 1] === '--grpc-address') return '127.0.0.1:0';
      return a;
    });
    const hoard = await spawnHoard([...swapped, '--workers', SUITE_WORKERS], {
      main: join(REPO_ROOT, 'bin', 'hoard.js'),
      dir: join(work.path, 'store'),
    });
    let upload: ReturnType<typeof request> | undefined;
    let exited = false;
    void hoard.exited.then(() => (exited = true));
    try {
      assert.ok(hoard.grpcTarget !== undefined, 'gRPC listens too');
      const port = Number(new URL(hoard.httpUrl).port);
      assert.equal((await fetch(`${hoard.httpUrl}/readyz`)).status, 200);
      assert.equal(await healthCheck(f.healthCommand, httpPort, port), 0, 'healthy while serving');

      // An upload in flight keeps the server draining after SIGTERM; the check fails meanwhile.
      const sent = Promise.withResolvers<void>();
      upload = request({ host: '127.0.0.1', port, method: 'PUT', path: `/cas/${'0'.repeat(64)}`, agent: false });
      upload.setHeader('content-length', 1000);
      upload.on('error', () => undefined);
      upload.write(Buffer.alloc(10), () => sent.resolve());
      await sent.promise;
      await new Promise((r) => setTimeout(r, 100));
      hoard.signal('SIGTERM');
      let code = 0;
      for (let i = 0; i < 50 && code === 0; i++) {
        code = await healthCheck(f.healthCommand, httpPort, port);
        if (code === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.notEqual(code, 0, 'unhealthy while draining');
      assert.ok(!exited, 'still draining: the upload holds it');

      upload.destroy();
      assert.deepEqual(await hoard.exited, { code: 0, signal: null }, 'a drained stop exits 0');
      assert.notEqual(await healthCheck(f.healthCommand, httpPort, port), 0, 'unhealthy once stopped');
    } finally {
      upload?.destroy();
      await hoard.dispose();
      await work.remove();
    }
  },
);
