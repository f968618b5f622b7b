// End-to-end: the real rclone (Debian 1.60) as the WebDAV client of hoard's sccache mount,
// standing in for sccache's own WebDAV backend, which Debian's sccache is built without.
// rclone exercises what sccache needs and more: PROPFIND (Depth 0 and the Depth 1 listings
// sccache never sends), MKCOL of nested collections, PUT and GET, with several transfers at
// once into the same directories. A tree of a few hundred files goes up and comes back down
// byte for byte; a read-only identity can download it but not change it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeAccessFixtures, USERS, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { findClient, newSalt, runCommand, tail, tempDir, type CommandResult } from './clients.ts';

const rclone = findClient('rclone', ['version'], 'apt-get install rclone');

/** 4 × 5 directories of 15 files, plus an empty file, a 5 MiB file and awkward names. */
async function writeTree(root: string): Promise<number> {
  let files = 0;
  for (let d = 0; d < 4; d++) {
    for (let s = 0; s < 5; s++) {
      const dir = join(root, `dir ${d}`, `sub-${s}`);
      await mkdir(dir, { recursive: true });
      for (let f = 0; f < 15; f++) {
        await writeFile(join(dir, `f${f}.o`), randomBytes((d * 997 + s * 131 + f * 61) % 4096));
        files++;
      }
    }
  }
  await writeFile(join(root, 'empty'), Buffer.alloc(0));
  await writeFile(join(root, 'dir 1', 'sub-2', 'big.bin'), randomBytes(5 * 1024 * 1024));
  await writeFile(join(root, 'dir 3', 'ü & <odd> #name%.txt'), 'awkward name\n');
  return files + 3;
}

async function countFiles(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).length;
}

describe(
  'rclone (standing in for sccache’s WebDAV client) against hoard’s sccache mount',
  { skip: rclone.skip },
  () => {
    let hoard: HoardProcess;
    let fx: AccessFixtures;
    let tmp: Awaited<ReturnType<typeof tempDir>>;

    before(async () => {
      tmp = await tempDir('hoard-e2e-webdav-');
      fx = await makeAccessFixtures();
      hoard = await spawnHoard(
        ['--durability', 'none', '--htpasswd-file', fx.htpasswdFile, '--access-file', fx.accessFile],
        { grpc: false },
      );
    });
    after(async () => {
      await hoard?.dispose();
      await fx?.close();
      await tmp?.remove();
    });

    /** An rclone on-the-fly WebDAV remote for `path` below the mount, in namespace `team`. */
    function remote(path: string): string {
      return `:webdav,url='${hoard.httpUrl}/team/sccache',vendor=other:${path}`;
    }
    // Credentials go in the environment, never on a command line (visible in `ps`) or in a
    // remote string rclone may print in its errors.
    const writer = (): NodeJS.ProcessEnv => ({
      RCLONE_WEBDAV_USER: 'bob',
      RCLONE_WEBDAV_PASS: execFileSync('rclone', ['obscure', '-'], { input: USERS.bob, encoding: 'utf8' }).trim(),
    });
    const reader = (): NodeJS.ProcessEnv => ({ RCLONE_WEBDAV_BEARER_TOKEN: fx.tokens['reader'] });

    /** rclone with no user config, as `who`. */
    function run(args: readonly string[], who: NodeJS.ProcessEnv): Promise<CommandResult> {
      const flags = ['--config', '/dev/null', '--transfers', '8', '--retries', '1', '--low-level-retries', '1'];
      return runCommand('rclone', [...args, ...flags], tmp.path, {
        ...process.env,
        RCLONE_CONFIG: '/dev/null',
        ...who,
      });
    }
    const explain = (r: CommandResult, what: string) =>
      `${what} (exit ${r.code})\n--- rclone:\n${tail(r.output, 40)}\n--- hoard:\n${tail(hoard.output(), 20)}`;

    test('a nested tree goes up and comes back identical; a read-only identity downloads but cannot upload', async () => {
      const started = performance.now();
      const run1 = newSalt('webdav');
      const source = join(tmp.path, 'source');
      const expected = await writeTree(source);

      const up = await run(['copy', source, remote(run1)], writer());
      assert.equal(up.code, 0, explain(up, 'copy up failed'));

      const down = join(tmp.path, 'down');
      await mkdir(down);
      const back = await run(['copy', remote(run1), down], writer());
      assert.equal(back.code, 0, explain(back, 'copy down failed'));
      assert.equal(await countFiles(down), expected);
      execFileSync('diff', ['-r', source, down]);

      // The read-only identity reads everything...
      const readOnly = join(tmp.path, 'read-only');
      await mkdir(readOnly);
      const read = await run(['copy', remote(run1), readOnly], reader());
      assert.equal(read.code, 0, explain(read, 'read-only copy down failed'));
      execFileSync('diff', ['-r', source, readOnly]);

      // ...and its upload of a changed tree fails without changing anything.
      const changed = join(tmp.path, 'changed');
      await mkdir(join(changed, 'dir 0', 'sub-0'), { recursive: true });
      await mkdir(join(changed, 'new dir'), { recursive: true });
      await writeFile(join(changed, 'dir 0', 'sub-0', 'f1.o'), 'replaced by a reader');
      await writeFile(join(changed, 'new dir', 'new'), 'added by a reader');
      const refused = await run(['copy', changed, remote(run1)], reader());
      assert.notEqual(refused.code, 0, explain(refused, 'a read-only upload succeeded'));
      assert.match(refused.output, /403|Forbidden|permission/i, explain(refused, 'no 403 reported'));

      const again = join(tmp.path, 'again');
      await mkdir(again);
      const check = await run(['copy', remote(run1), again], writer());
      assert.equal(check.code, 0, explain(check, 'second copy down failed'));
      execFileSync('diff', ['-r', source, again]);
      const seconds = (performance.now() - started) / 1000;
      assert.ok(seconds < 80, `took ${seconds.toFixed(1)} s`);
    });
  },
);
