// The package as users install it: `npm pack` builds dist/ (prepack) and packs it; the
// tarball installed with `npm install <tarball>` into an empty project must run `hoard serve`
// from node_modules (Node does not strip types there, so this is the built JavaScript) and
// give the client library to `import 'hoard'`. The server answers a Bazel HTTP round trip;
// the library stores and reads a blob over gRPC.
//
// npm resolves the package's dependencies with `--prefer-offline`: from npm's cache, which
// `npm ci` filled with the very same packages, going to the registry only for what is not
// there. Runs once per suite (test/package/ is not in the request-threads pass).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../e2e/clients.ts';
import { NODE_BIN, REPO_ROOT, spawnHoard } from '../helpers/spawn-server.ts';

const run = promisify(execFile);
const NPM_ENV = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

test(
  'the packed tarball installs into an empty project and serves hoard and its client library from node_modules',
  { timeout: 300_000 },
  async () => {
    const work = await tempDir('hoard-pack-');
    try {
      const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work.path], {
        cwd: REPO_ROOT,
        env: NPM_ENV,
        maxBuffer: 64 * 1024 * 1024,
      });
      const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
      const files = packed!.files.map((f) => f.path);
      assert.ok(files.includes('dist/cli/main.js') && files.includes('dist/index.d.ts'), 'the build is packed');
      assert.ok(
        files.includes('bin/hoard.js') && files.some((f) => f.startsWith('proto/')),
        'bin and the .proto files too',
      );
      assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources and tests are not');

      const app = join(work.path, 'app');
      await run('mkdir', [app]);
      await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      await run('npm', ['install', '--prefer-offline', join(work.path, packed!.filename)], {
        cwd: app,
        env: NPM_ENV,
        maxBuffer: 64 * 1024 * 1024,
      });

      const installed = join(app, 'node_modules', 'hoard', 'bin', 'hoard.js');
      const hoard = await spawnHoard([], { main: installed, dir: join(work.path, 'store') });
      try {
        // Bazel's HTTP protocol: PUT a CAS blob, read it back.
        const blob = Buffer.from('built, packed, installed, served');
        const hash = createHash('sha256').update(blob).digest('hex');
        const put = await fetch(`${hoard.httpUrl}/cas/${hash}`, { method: 'PUT', body: blob });
        assert.equal(put.status, 200, await put.text());
        const got = await fetch(`${hoard.httpUrl}/cas/${hash}`);
        assert.equal(got.status, 200);
        assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob);

        // The client library, imported by name from the installed package.
        const script = join(app, 'use-library.mjs');
        await writeFile(
          script,
          [
            "import { createClient, digestOf } from 'hoard';",
            'const client = createClient(process.argv[2]);',
            "const bytes = Buffer.from('from the library');",
            'const digest = digestOf(bytes);',
            'await client.put(digest, bytes);',
            'process.stdout.write(Buffer.from(await client.getBytes(digest)).toString());',
            'await client.close();',
          ].join('\n'),
        );
        const library = await run(NODE_BIN, [script, `grpc://${hoard.grpcTarget!}`], { cwd: app });
        assert.equal(library.stdout, 'from the library');
      } finally {
        await hoard.stop();
      }
    } finally {
      await work.remove();
    }
  },
);
