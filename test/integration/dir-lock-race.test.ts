// Rule 2 needs one writer per store directory: processes that start at the same moment on
// one directory must not both get the lock. (Found by review: LOCK was created empty and the
// pid written after; a contender reading the empty file took it for a dead owner's. Found by
// the next review: contenders that all found a dead owner's LOCK each removed "the stale
// LOCK", one of them the LOCK another had just taken, and both went on as owners.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CONTENDER = fileURLToPath(new URL('./fixtures/lock-contender.ts', import.meta.url));
const ROUNDS = 8;
const CONTENDERS = 4;

function contend(dir: string, startAt: number, holdUntil: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CONTENDER, dir, String(startAt), String(holdUntil)], { timeout: 20_000 }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
}

/** The pid of a process that has exited (not reused this soon: pids are handed out in turn). */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['-e', ''], (err) => (err ? reject(err) : resolve(child.pid!)));
  });
}

async function race(dir: string, round: number): Promise<void> {
  const startAt = Date.now() + 1200; // after every child has loaded, usually
  const outcomes = await Promise.all(Array.from({ length: CONTENDERS }, () => contend(dir, startAt, startAt + 1500)));
  assert.equal(outcomes.filter((o) => o === 'won').length, 1, `round ${round}: ${outcomes.join(' ')}`);
}

test(
  `dir lock: ${CONTENDERS} processes starting together, ${ROUNDS} rounds: exactly one wins each time`,
  { timeout: 120_000 },
  async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'hoard-lock-race-'));
      try {
        await race(dir, round);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  },
);

test(
  `dir lock: ${CONTENDERS} processes finding a dead owner's LOCK together, ${ROUNDS} rounds: exactly one takes it over`,
  { timeout: 120_000 },
  async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'hoard-lock-race-'));
      try {
        await writeFile(path.join(dir, 'LOCK'), `${await deadPid()}\n`); // the format before nonces
        await race(dir, round);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  },
);
