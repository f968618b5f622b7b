import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isHoardError } from '../../core/errors.ts';
import { lockDir } from './dir-lock.ts';

test('dir lock: a LOCK naming our own pid but not held by us is stale (a container restart is PID 1 again)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-lock-'));
  try {
    // Left by the killed previous run; a second name keeps its inode from being reused.
    await writeFile(path.join(dir, 'old'), `${process.pid}\n`);
    await link(path.join(dir, 'old'), path.join(dir, 'LOCK'));
    const lock = await lockDir(dir);
    assert.notEqual((await stat(path.join(dir, 'LOCK'))).ino, (await stat(path.join(dir, 'old'))).ino, 'the stale LOCK was replaced by ours');
    assert.equal(await readFile(path.join(dir, 'LOCK'), 'utf8'), `${process.pid}\n`);
    await assert.rejects(lockDir(dir), (e) => isHoardError(e, 'unavailable'), 'a lock this process holds is not stale');
    await assert.rejects(lockDir(path.join(dir, '.')), (e) => isHoardError(e, 'unavailable'), 'whatever the spelling of the path');
    await lock.release();
    await (await lockDir(dir)).release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dir lock: two concurrent lock attempts in one process, exactly one wins', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-lock-'));
  try {
    const results = await Promise.allSettled([lockDir(dir), lockDir(dir)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dir lock: one directory reached through a symlink is still held by this process', async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'hoard-lock-'));
  try {
    const real = path.join(base, 'store');
    await mkdir(real);
    await symlink(real, path.join(base, 'alias'));
    const lock = await lockDir(real);
    await assert.rejects(lockDir(path.join(base, 'alias')), (e) => isHoardError(e, 'unavailable'));
    await lock.release();
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
