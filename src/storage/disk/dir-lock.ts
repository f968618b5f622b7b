// One process per store directory: two hoards appending to one journal would break rule 2.
// The lock file holds the owner's pid; a lock left by a dead process is taken over. The file
// is written whole under a private name and then linked into place (link fails if LOCK
// exists), so nobody ever reads an empty LOCK and mistakes a starting owner for a dead one.
import { randomBytes } from 'node:crypto';
import { link, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, HoardError } from '../../core/errors.ts';

export interface DirLock {
  release(): Promise<void>;
}

// The directories this process holds. A LOCK naming our own pid that is not in here was
// left by an earlier process that had the same pid: in a container every restart is PID 1,
// so after a SIGKILL the pid in the file is alive (it is us) but the lock is stale.
const held = new Set<string>();

export async function lockDir(dir: string): Promise<DirLock> {
  // The real path: a directory reached through a symlink is still the one this process holds.
  const file = path.join(await realpath(dir), 'LOCK');
  // Checked and taken with no await in between, so a concurrent call here is refused too.
  if (held.has(file)) throw new HoardError(ErrorCode.Unavailable, `store ${dir} is in use by process ${process.pid} (this one)`);
  held.add(file);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const mine = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
      await writeFile(mine, `${process.pid}\n`);
      try {
        await link(mine, file);
        return {
          release: async () => {
            await unlink(file).catch(() => undefined);
            held.delete(file);
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        await unlink(mine).catch(() => undefined);
      }
      const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new HoardError(ErrorCode.Unavailable, `store ${dir} is in use by process ${owner}`);
      }
      await unlink(file).catch(() => undefined); // stale: its owner died
    }
    throw new HoardError(ErrorCode.Unavailable, `could not lock store ${dir}`);
  } catch (err) {
    held.delete(file);
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
