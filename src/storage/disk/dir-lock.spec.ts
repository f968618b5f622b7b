import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isHoardError } from '../../core/errors.ts';
import { lockDir } from './dir-lock.ts';

/** Runs `fn` in a fresh temporary directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-lock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('dir lock: a LOCK naming our own pid but not held by us is stale (a container restart is PID 1 again)', () =>
  inTempDir(async (dir) => {
    // Left by the killed previous run; a second name keeps its inode from being reused.
    await writeFile(path.join(dir, 'old'), `${process.pid}\n`);
    await link(path.join(dir, 'old'), path.join(dir, 'LOCK'));
    const lock = await lockDir(dir);
    assert.notEqual(
      (await stat(path.join(dir, 'LOCK'))).ino,
      (await stat(path.join(dir, 'old'))).ino,
      'the stale LOCK was replaced by ours',
    );
    assert.match(await readFile(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} [0-9a-f]{16}\n$`));
    await assert.rejects(lockDir(dir), (e) => isHoardError(e, 'unavailable'), 'a lock this process holds is not stale');
    await assert.rejects(
      lockDir(path.join(dir, '.')),
      (e) => isHoardError(e, 'unavailable'),
      'whatever the spelling of the path',
    );
    await lock.release();
    await (await lockDir(dir)).release();
  }));

test('dir lock: two concurrent lock attempts in one process, exactly one wins', () =>
  inTempDir(async (dir) => {
    const results = await Promise.allSettled([lockDir(dir), lockDir(dir)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
  }));

test('dir lock: one directory reached through a symlink is still held by this process', () =>
  inTempDir(async (base) => {
    const real = path.join(base, 'store');
    await mkdir(real);
    await symlink(real, path.join(base, 'alias'));
    const lock = await lockDir(real);
    await assert.rejects(lockDir(path.join(base, 'alias')), (e) => isHoardError(e, 'unavailable'));
    await lock.release();
  }));

test('dir lock: a breaker left by a process that died mid-break does not keep the store locked', () =>
  inTempDir(async (dir) => {
    // pid 0 names no live process: both files were left by crashed processes.
    await writeFile(path.join(dir, 'LOCK'), '0 00000000000000aa\n');
    await writeFile(path.join(dir, 'LOCK.break-00000000000000aa'), '0 00000000000000bb\n');
    const lock = await lockDir(dir);
    assert.match(await readFile(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} `));
    await lock.release();
  }));

test('dir lock: taking the lock sweeps old breakers and private names of dead processes, nothing else', () =>
  inTempDir(async (dir) => {
    const old = new Date(Date.now() - 10 * 60_000);
    const leftover = async (name: string, content: string, mtime?: Date) => {
      await writeFile(path.join(dir, name), content);
      if (mtime) await utimes(path.join(dir, name), mtime, mtime);
    };
    // pid 0 names no live process; the parent of this test process is alive.
    await leftover('LOCK.break-00000000000000aa', '0 00000000000000bb\n', old);
    await leftover('LOCK.break-00000000000000aa.00000000000000cc.tmp', '0 00000000000000cc\n', old);
    await leftover('LOCK.00000000000000dd.tmp', '', old); // died before writing it
    await leftover('LOCK.00000000000000ee.tmp', '0 00000000000000ee\n'); // young: maybe being written
    await leftover('LOCK.break-00000000000000ff', `${process.ppid} 0000000000000011\n`, old); // live breaker
    await leftover('LOCKED-notes', 'not a lock file', old);
    const lock = await lockDir(dir);
    assert.deepEqual((await readdir(dir)).sort(), [
      'LOCK',
      'LOCK.00000000000000ee.tmp',
      'LOCK.break-00000000000000ff',
      'LOCKED-notes',
    ]);
    await lock.release();
  }));

test('dir lock: release leaves alone a LOCK that no longer names this owner', () =>
  inTempDir(async (dir) => {
    const lock = await lockDir(dir);
    // Someone replaced it (an operator, or a takeover that judged us dead): theirs stays.
    await rm(path.join(dir, 'LOCK'));
    await writeFile(path.join(dir, 'LOCK'), '1 00000000000000cc\n');
    await lock.release();
    assert.equal(await readFile(path.join(dir, 'LOCK'), 'utf8'), '1 00000000000000cc\n');
  }));
