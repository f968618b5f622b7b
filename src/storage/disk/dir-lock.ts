// One process per store directory: two hoards appending to one journal would break rule 2.
// The lock file holds the owner's pid; a lock left by a dead process is taken over.
import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, HoardError } from '../../core/errors.ts';

export interface DirLock {
  release(): Promise<void>;
}

export async function lockDir(dir: string): Promise<DirLock> {
  const file = path.join(dir, 'LOCK');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { release: () => unlink(file).catch(() => undefined) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new HoardError(ErrorCode.Unavailable, `store ${dir} is in use by process ${owner}`);
    }
    await unlink(file).catch(() => undefined); // stale: its owner died
  }
  throw new HoardError(ErrorCode.Unavailable, `could not lock store ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
