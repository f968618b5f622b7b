import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isHoardError } from '../../core/errors.ts';
import { lockDir } from './dir-lock.ts';

/** Where the kernel shows process states and start times; elsewhere liveness is kill(pid, 0). */
const PROC = existsSync('/proc/self/stat');
const NEEDS_PROC = { skip: !PROC && 'no /proc/<pid>/stat here' };
/** python3 comes with Bazel's Debian package, which .ci/run installs; elsewhere its test skips. */
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
const PF_EXITING = 0x4;

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
    // Where /proc is, the line ends with our start time (field 22 of /proc/<pid>/stat).
    const start = PROC ? ` ${(await procStat(process.pid)).start}` : '';
    assert.match(await readFile(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} [0-9a-f]{16}${start}\n$`));
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

/**
 * State (field 3) and start time (field 22) of /proc/<pid>/stat. The fields follow the LAST ')':
 * the command name before them is in parentheses and may itself hold spaces and ')'.
 */
async function procStat(pid: number): Promise<{ state: string; flags: number; start: string }> {
  return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

function parseStat(text: string): { state: string; flags: number; start: string } {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, flags: Number(fields[6]), start: fields[19]! };
}

/** Runs `fn` with a live process other than this one, whose command name is `name`; ends it afterwards. */
async function withLiveProcess(name: string, fn: (pid: number) => Promise<void>): Promise<void> {
  await inTempDir(async (dir) => {
    // The kernel takes the command name from the file run, here a link to sh (node would rename
    // itself MainThread); sh waits on its standard input, a pipe nobody writes.
    const exe = path.join(dir, name);
    await symlink('/bin/sh', exe);
    const child = spawn(exe, ['-c', 'read -r x'], { stdio: ['pipe', 'ignore', 'inherit'] });
    try {
      await once(child, 'spawn');
      await fn(child.pid!);
    } finally {
      await stop(child);
    }
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * Runs `fn` with the pid of a zombie: a process that has exited and whose parent has not
 * reaped it, as a killed server is until init gets to it. Node reaps its own children, so the
 * zombie is a grandchild: sh starts a subshell, then execs `sleep`, which never waits for
 * children; the subshell exits once it sees its parent is `sleep` (so sh cannot reap it first).
 */
async function withZombie(fn: (pid: number) => Promise<void>): Promise<void> {
  const script = '(while read -r c </proc/$$/comm && [ "$c" != sleep ]; do sleep 0.01; done) & echo $!; exec sleep 60';
  const parent = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
    const pid = Number.parseInt(line.toString(), 10);
    for (let tries = 0; (await procStat(pid)).state !== 'Z'; tries++) {
      assert.ok(tries < 500, `process ${pid} did not become a zombie`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await fn(pid);
  } finally {
    await stop(parent); // the zombie goes to init, which reaps it
  }
}

test('dir lock: a LOCK naming a zombie is stale (a killed owner not yet reaped by its parent)', NEEDS_PROC, () =>
  withZombie((zombie) =>
    inTempDir(async (dir) => {
      // Written by the owner itself, so its start time matches: only the state says it is gone.
      const { start } = await procStat(zombie);
      await writeFile(path.join(dir, 'LOCK'), `${zombie} 00000000000000aa ${start}\n`);
      const lock = await lockDir(dir);
      assert.match(await readFile(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} `));
      await lock.release();
      // A LOCK written before start times is judged by the state alone.
      await writeFile(path.join(dir, 'LOCK'), `${zombie} 00000000000000bb\n`);
      await (await lockDir(dir)).release();
    }),
  ),
);

test(
  'dir lock: a LOCK naming a live process that started after the owner is stale (the pid was reused)',
  NEEDS_PROC,
  () =>
    withLiveProcess('hoard-reuse', (pid) =>
      inTempDir(async (dir) => {
        const { start } = await procStat(pid);
        await writeFile(path.join(dir, 'LOCK'), `${pid} 00000000000000aa ${Number(start) - 1}\n`);
        const lock = await lockDir(dir);
        assert.match(await readFile(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} `));
        await lock.release();
      }),
    ),
);

test('dir lock: a LOCK naming a live owner is refused, naming the owner (even one whose name holds ") Z ")', () =>
  // A name that fools a parser splitting /proc/<pid>/stat at the first ')' into reading state Z.
  withLiveProcess('n) Z 1 1 1 (x', (pid) =>
    inTempDir(async (dir) => {
      const start = PROC ? ` ${(await procStat(pid)).start}` : '';
      // Running (R) while sh still starts, then sleeping (S) on its read: alive either way.
      if (PROC) assert.match(await readFile(`/proc/${pid}/stat`, 'utf8'), /^\d+ \(n\) Z 1 1 1 \(x\) [RS] /);
      await writeFile(path.join(dir, 'LOCK'), `${pid} 00000000000000aa${start}\n`);
      const inUse = (e: unknown) => isHoardError(e, 'unavailable') && (e as Error).message.includes(`process ${pid}`);
      await assert.rejects(lockDir(dir), inUse);
      // A LOCK written before start times: the live pid is enough.
      await writeFile(path.join(dir, 'LOCK'), `${pid} 00000000000000aa\n`);
      await assert.rejects(lockDir(dir), inUse);
      assert.equal(await readFile(path.join(dir, 'LOCK'), 'utf8'), `${pid} 00000000000000aa\n`, 'left as it was');
    }),
  ));

/**
 * Runs `fn` with the pid of a killed process that is still exiting: dd, one thread, holds a
 * 512 MiB block it could not write to a pipe nobody reads; after SIGKILL the kernel frees that
 * memory (tens of ms) before the process becomes a zombie. Tries again if the window was missed.
 */
async function withExitingProcess(fn: (pid: number, start: string) => Promise<void>): Promise<void> {
  for (let tries = 0; ; tries++) {
    const dd = spawn('dd', ['if=/dev/zero', 'bs=512M', 'count=1', 'status=none'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await once(dd.stdout!, 'data');
      dd.stdout!.pause(); // dd blocks writing the rest of its block
      const killedAt = Date.now();
      dd.kill('SIGKILL');
      let stat = parseStat(readFileSync(`/proc/${dd.pid}/stat`, 'utf8'));
      // The signal is taken when dd is next scheduled; busy-wait for it, Node must not reap dd.
      while (stat.state !== 'Z' && (stat.flags & PF_EXITING) === 0 && Date.now() - killedAt < 2000)
        stat = parseStat(readFileSync(`/proc/${dd.pid}/stat`, 'utf8'));
      // Its start time is read here, while it is seen exiting: a moment later it may be gone.
      if (stat.state !== 'Z' && (stat.flags & PF_EXITING) !== 0) return await fn(dd.pid!, stat.start);
      assert.ok(tries < 5, `dd ${dd.pid} was never seen exiting: ${JSON.stringify(stat)}`);
    } finally {
      await stop(dd);
    }
  }
}

test('dir lock: a LOCK naming a killed owner that is still freeing its memory is stale', NEEDS_PROC, () =>
  withExitingProcess((pid, start) =>
    inTempDir(async (dir) => {
      await writeFile(path.join(dir, 'LOCK'), `${pid} 00000000000000aa ${start}\n`);
      await (await lockDir(dir)).release();
    }),
  ),
);

test(
  'dir lock: a LOCK naming an owner whose main thread has exited but another thread runs is refused',
  { skip: (!PROC && 'no /proc/<pid>/stat here') || (!PYTHON && 'no python3 here') },
  async () => {
    // The main thread ends with pthread_exit (a zombie in /proc/<pid>/stat); the other sleeps on.
    const script =
      'import ctypes, threading, time\n' +
      'threading.Thread(target=lambda: time.sleep(60)).start()\n' +
      'print(flush=True)\n' +
      'ctypes.CDLL(None).pthread_exit(None)\n';
    const owner = spawn(PYTHON!, ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(owner.stdout!, 'data');
      for (let tries = 0; (await procStat(owner.pid!)).state !== 'Z'; tries++) {
        assert.ok(tries < 500, 'the main thread did not exit');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await inTempDir(async (dir) => {
        const { start } = await procStat(owner.pid!);
        await writeFile(path.join(dir, 'LOCK'), `${owner.pid} 00000000000000aa ${start}\n`);
        await assert.rejects(lockDir(dir), (e) => isHoardError(e, 'unavailable'));
      });
    } finally {
      await stop(owner);
    }
  },
);
