// A full file system is a bound too: a store whose --max-size is far above what its file
// system holds (here a 40 MiB tmpfs of its own, and a file that takes part of it after the
// store has measured it) keeps taking puts by evicting, works to what the disk really holds
// (`effectiveMaxBytes`), answers insufficient_storage only for what cannot fit at all, and
// does the same after a restart on the full file system. Mounting needs root: CI runs as
// root; elsewhere the tests are skipped (and fail under CI when the mount does).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { digestOf } from '../../src/core/digest.ts';
import { isHoardError } from '../../src/core/errors.ts';
import { casKey, rawKey } from '../../src/core/keys.ts';
import { openDiskStore, type DiskStore } from '../../src/storage/disk/disk-store.ts';
import { spawnHoard } from '../helpers/spawn-server.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const FS_BYTES = 40 * MiB;
const skip =
  process.getuid?.() !== 0 && !process.env.CI ? 'mounting a tmpfs needs root (CI runs as root and runs these)' : false;

describe('a store on a full file system', { skip }, () => {
  let mnt: string;
  before(async () => {
    mnt = await mkdtemp(path.join(tmpdir(), 'hoard-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'tmpfs', mnt]);
  });
  after(async () => {
    await run('umount', [mnt]).catch(() => undefined);
    await rm(mnt, { recursive: true, force: true });
  });

  /** Takes `bytes` of the tmpfs, as another program would. */
  async function takeSpace(name: string, bytes: number): Promise<void> {
    await writeFile(path.join(mnt, name), Buffer.alloc(bytes));
  }

  it('evicts to make room when the disk fills, whatever maxBytes says, and goes on after a restart', async () => {
    const dir = path.join(mnt, 'store');
    const opts = { dir, maxBytes: 1024 * MiB };
    const blobs = new Map<string, Buffer>();
    let s: DiskStore = await openDiskStore(opts);
    const put = async (data: Buffer) => {
      const d = digestOf(data);
      await s.put(casKey(d.hash), data, { size: data.length });
      blobs.set(d.hash, data);
    };
    /** Every stored blob the store still has is byte-exact; returns how many it has. */
    const present = async () => {
      let n = 0;
      for (const [hash, data] of blobs) {
        const got = await s.getBytes(casKey(hash));
        if (got === undefined) continue;
        assert.ok(got.equals(data), `blob ${hash} is byte-exact`);
        n++;
      }
      return n;
    };
    /** Large (a file of its own), small (segments, in one batch) and medium puts, ~3.3 MiB a round. */
    const round = async (i: number) => {
      await put(randomBytes(3 * MiB));
      await Promise.all(Array.from({ length: 16 }, (_, k) => put(randomBytes(4096 + i * 16 + k))));
      await put(randomBytes(200_000));
    };
    try {
      assert.ok(s.usage().effectiveMaxBytes < FS_BYTES, `measured at open: ${s.usage().effectiveMaxBytes}`);
      // Another program takes 12 MiB after the store measured the disk: it finds out by ENOSPC.
      await takeSpace('other', 12 * MiB);
      for (let i = 0; i < 40; i++) await round(i); // ~130 MiB through 28 MiB of room
      const u = s.usage();
      assert.ok(u.evictions > 0, 'it evicted');
      assert.ok(u.effectiveMaxBytes < FS_BYTES - 12 * MiB, `the bound fell to the disk: ${u.effectiveMaxBytes}`);
      assert.ok(u.effectiveMaxBytes > 12 * MiB, `but not to nothing: ${u.effectiveMaxBytes}`);
      assert.ok(u.bytes <= u.effectiveMaxBytes, `usage ${u.bytes} within ${u.effectiveMaxBytes}`);
      assert.ok((await present()) > 10, 'it kept what fits');

      // More than the whole file system: insufficient_storage, at once when declared (nothing
      // evicted for it), or once what was received outgrew all the room that could be made.
      const evictions = s.usage().evictions;
      await assert.rejects(s.put(rawKey('huge'), Buffer.alloc(48 * MiB), { size: 48 * MiB }), (e) =>
        isHoardError(e, 'insufficient_storage'),
      );
      assert.equal(s.usage().evictions, evictions, 'a declared size over the bound evicts nothing');
      async function* undeclared() {
        for (let i = 0; i < 48; i++) yield Buffer.alloc(MiB, i);
      }
      await assert.rejects(s.put(rawKey('huge-streamed'), undeclared()), (e) =>
        isHoardError(e, 'insufficient_storage'),
      );

      await s.close();
      // The other program takes more while the store is down: the disk is full at the open.
      await takeSpace('more', 4 * MiB).catch(() => undefined);
      s = await openDiskStore(opts);
      assert.ok(s.usage().effectiveMaxBytes < FS_BYTES - 12 * MiB, `measured again at open`);
      for (let i = 40; i < 50; i++) await round(i);
      assert.ok((await present()) > 10);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
      await unlink(path.join(mnt, 'other')).catch(() => undefined);
      await unlink(path.join(mnt, 'more')).catch(() => undefined);
    }
  });

  it('hoard serve answers large PUTs with 200 after the disk filled, never 500', { timeout: 60_000 }, async () => {
    const dir = path.join(mnt, 'served');
    await mkdir(dir);
    const server = await spawnHoard(['--max-size', '1GiB'], { dir, grpc: false });
    try {
      await takeSpace('other', 12 * MiB);
      const statuses = new Map<number, number>();
      for (let i = 0; i < 30; i++) {
        const blob = randomBytes(2 * MiB);
        const res = await fetch(`${server.httpUrl}/cas/${digestOf(blob).hash}`, { method: 'PUT', body: blob });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
      assert.deepEqual([...statuses], [[200, 30]], `statuses: ${JSON.stringify([...statuses])}`);
      const status = (await (await fetch(`${server.httpUrl}/status`)).json()) as unknown;
      assert.match(JSON.stringify(status), /effective/i, 'the status page shows the effective bound');
      assert.match(server.output(), /file system holds less than the store bound/, 'and the log says why');
    } finally {
      await server.dispose();
      await rm(dir, { recursive: true, force: true });
      await unlink(path.join(mnt, 'other')).catch(() => undefined);
    }
  });
});
