// One process per store directory: two hoards appending to one journal would break rule 2.
//
// LOCK names its owner as "<pid> <nonce> <start>". It is written whole under a private name and
// then linked into place (link fails if LOCK exists), so nobody ever reads an empty LOCK and
// mistakes a starting owner for a dead one.
//
// An owner is dead when its pid names no process; or, where /proc tells, a process every thread
// of which has exited or is exiting (a killed server frees its memory for a while, about 0.3 s a
// GB, then stays a zombie until its parent or init reaps it: a restart must not be refused
// meanwhile; a thread that has not begun to exit may still be inside a write, so until then the
// owner is live); or a process started at another time than <start>, the owner's start time from
// /proc/<pid>/stat: that pid was handed on. A LOCK without <start> (off Linux, or written before
// start times) is judged by the pid alone.
//
// A LOCK whose owner is dead is broken under a breaker file named after that LOCK's nonce,
// taken with the same link: of the processes that found the same dead owner, only the breaker
// re-reads LOCK and removes it if it is still the dead one, so nobody removes a LOCK another
// contender has just taken. A breaker that died mid-break is broken the same way, under a
// breaker named after its own nonce. The owner releases LOCK only if it still names it, and
// on taking it sweeps what dead processes left: their breakers and unlinked private names.
import { randomBytes } from 'node:crypto';
import { link, readdir, readFile, realpath, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, HoardError } from '../../core/errors.ts';

export interface DirLock {
  release(): Promise<void>;
}

/** Who holds a lock or breaker file. A LOCK written before nonces has the pid alone. */
interface Holder {
  readonly pid: number;
  readonly nonce: string;
  /** The holder's start time as /proc/<pid>/stat gives it; undefined where the file had none. */
  readonly start?: string | undefined;
}

// The directories this process holds, and the nonces of the files it wrote. A file naming our
// own pid with a nonce that is not ours was left by an earlier process that had the same pid:
// in a container every restart is PID 1, so after a SIGKILL the pid in the file is alive (it
// is us) but the lock is stale.
const held = new Set<string>();
const ownNonces = new Set<string>();

const ATTEMPTS = 50;
/** A leftover younger than this may belong to a process that is writing it right now. */
const LEFTOVER_MIN_AGE_MS = 60_000;
const LEFTOVER = /^LOCK\.(?:break-.+|[0-9a-f]{16}\.tmp)$/;
/** States in /proc/<pid>/stat of a thread that has exited: zombie, dead (x before Linux 3.14). */
const EXITED = new Set(['Z', 'X', 'x']);
/** The flag (field 9 of /proc/<pid>/stat) of a thread that has begun to exit: PF_EXITING. */
const PF_EXITING = 0x4;

export async function lockDir(dir: string): Promise<DirLock> {
  // The real path: a directory reached through a symlink is still the one this process holds.
  const file = path.join(await realpath(dir), 'LOCK');
  // Checked and taken with no await in between, so a concurrent call here is refused too.
  if (held.has(file))
    throw new HoardError(ErrorCode.Unavailable, `store ${dir} is in use by process ${process.pid} (this one)`);
  held.add(file);
  const me = newHolder();
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (await take(file, me)) {
        await sweepLeftovers(file);
        return { release: () => release(file, me) };
      }
      const owner = await readHolder(file);
      if (owner === undefined) continue; // released meanwhile
      if (await isLive(owner))
        throw new HoardError(ErrorCode.Unavailable, `store ${dir} is in use by process ${owner.pid}`);
      await breakStale(file, owner);
    }
    throw new HoardError(ErrorCode.Unavailable, `could not lock store ${dir}: its LOCK file kept changing hands`);
  } catch (err) {
    ownNonces.delete(me.nonce);
    held.delete(file);
    throw err;
  }
}

function newHolder(): Holder {
  const h = { pid: process.pid, nonce: randomBytes(8).toString('hex') };
  ownNonces.add(h.nonce);
  return h;
}

/** Links a file naming `me` at `file`; false if one is there already. */
async function take(file: string, me: Holder): Promise<boolean> {
  const mine = `${file}.${me.nonce}.tmp`;
  const start = await ownStart();
  await writeFile(mine, `${me.pid} ${me.nonce}${start === undefined ? '' : ` ${start}`}\n`);
  try {
    await link(mine, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

/** The holder `file` names; undefined when it is gone or names nobody. */
async function readHolder(file: string): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const [pidText = '', nonce = '', start = ''] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText, 10);
  // A LOCK that names no pid was not written by hoard (the file is never partial): it is
  // broken like a dead owner's, under a breaker named after its content.
  return {
    pid: Number.isInteger(pid) && pid > 0 ? pid : 0,
    nonce: nonce || `legacy-${Buffer.from(text).toString('hex').slice(0, 32)}`,
    start: /^\d+$/.test(start) ? start : undefined,
  };
}

async function isLive(h: Holder): Promise<boolean> {
  if (h.pid === 0) return false;
  if (h.pid === process.pid) return ownNonces.has(h.nonce);
  const proc = await procState(h.pid);
  if (proc) return !proc.exited && (h.start === undefined || h.start === proc.start);
  // No /proc (not Linux), or the process is gone or hidden from us (hidepid): kill decides.
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let ownStartTime: Promise<string | undefined> | undefined;

/** This process's start time, written into the files it takes; undefined without /proc. */
function ownStart(): Promise<string | undefined> {
  return (ownStartTime ??= readStat(`/proc/${process.pid}/stat`).then((s) => s?.start));
}

/**
 * What /proc tells of `pid`: its start time, and whether every thread of it has exited or is
 * exiting. Undefined when /proc cannot tell: not Linux, or no such process visible to us.
 */
async function procState(pid: number): Promise<{ start: string; exited: boolean } | undefined> {
  const main = await readStat(`/proc/${pid}/stat`);
  if (!main) return undefined;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [String(pid)])) {
    const thread = await readStat(`/proc/${pid}/task/${tid}/stat`); // undefined: it is gone
    if (thread && !EXITED.has(thread.state) && (thread.flags & PF_EXITING) === 0)
      return { start: main.start, exited: false };
  }
  return { start: main.start, exited: true };
}

/** State (field 3), flags (9) and start time (22) from a /proc stat file; undefined if unreadable. */
async function readStat(file: string): Promise<{ state: string; flags: number; start: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  // "<pid> (<comm>) <state> ...": comm may hold spaces and ')', so fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  const [state, flags, start] = [fields[0], Number(fields[6]), fields[19]];
  return state && Number.isInteger(flags) && start && /^\d+$/.test(start) ? { state, flags, start } : undefined;
}

/** Removes `file` if it still names `stale`, holding the breaker for that file meanwhile. */
async function breakStale(file: string, stale: Holder): Promise<void> {
  const breaker = `${file}.break-${stale.nonce}`;
  const me = newHolder();
  try {
    if (!(await take(breaker, me))) {
      const other = await readHolder(breaker);
      if (other === undefined) return; // that break just finished: look again
      if (await isLive(other))
        await sleep(10); // someone is breaking it right now
      else await breakStale(breaker, other); // a breaker that died mid-break
      return;
    }
    try {
      if ((await readHolder(file))?.nonce === stale.nonce) await unlink(file);
    } finally {
      await unlink(breaker).catch(() => undefined);
    }
  } finally {
    ownNonces.delete(me.nonce);
  }
}

/**
 * Removes breakers and private names that dead processes left beside `file` (a crash
 * mid-take or mid-break): nobody would ever look at them again. Best effort.
 */
async function sweepLeftovers(file: string): Promise<void> {
  const dir = path.dirname(file);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!LEFTOVER.test(name)) continue;
    const leftover = path.join(dir, name);
    try {
      const holder = await readHolder(leftover);
      if (!holder || (await isLive(holder)) || Date.now() - (await stat(leftover)).mtimeMs < LEFTOVER_MIN_AGE_MS)
        continue;
      await unlink(leftover);
    } catch {
      // gone meanwhile, or not ours to judge
    }
  }
}

async function release(file: string, me: Holder): Promise<void> {
  try {
    if ((await readHolder(file))?.nonce === me.nonce) await unlink(file);
  } catch {
    // nothing to release
  } finally {
    ownNonces.delete(me.nonce);
    held.delete(file);
  }
}
