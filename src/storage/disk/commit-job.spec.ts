import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCommitJob, type CommitIo } from './commit-job.ts';
import { CommitFailed, CommitSyncer, type CommitJob } from './commit-syncer.ts';

const SEG_A = 10;
const SEG_B = 11;
const JOURNAL = 20;

function job(): CommitJob {
  const arena = new ArrayBuffer(64);
  new Uint8Array(arena).set(Buffer.from('aaaabbbbbbrecords'));
  return {
    arena,
    writes: [
      { fd: SEG_A, position: 100, start: 0, length: 4 },
      { fd: SEG_B, position: 0, start: 4, length: 6 },
    ],
    syncFds: [SEG_A, SEG_B],
    journalFd: JOURNAL,
    journalPosition: 8,
    records: { start: 10, length: 7 },
    syncJournal: true,
  };
}

/** Records each call; `write` writes at most `chunk` bytes, `fail` throws at the named call. */
function recorder(chunk = Infinity, fail?: string): { io: CommitIo; calls: string[] } {
  const calls: string[] = [];
  const io: CommitIo = {
    write(fd, data, position) {
      const n = Math.min(chunk, data.byteLength);
      const call = `write ${fd}@${position} ${Buffer.from(data.subarray(0, n)).toString()}`;
      calls.push(call);
      if (fail === call)
        throw Object.assign(new Error('ENOSPC: no space left on device'), {
          code: 'ENOSPC',
          errno: -28,
          syscall: 'write',
        });
      return n;
    },
    fdatasync(fd) {
      calls.push(`sync ${fd}`);
      if (fail === `sync ${fd}`)
        throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
    },
  };
  return { io, calls };
}

describe('commit job', () => {
  it('writes and syncs every data file before it writes the journal, and syncs the journal last (rule 1)', () => {
    const { io, calls } = recorder();
    assert.deepEqual(runCommitJob(job(), io), { ok: true });
    assert.deepEqual(calls, [
      `write ${SEG_A}@100 aaaa`,
      `write ${SEG_B}@0 bbbbbb`,
      `sync ${SEG_A}`,
      `sync ${SEG_B}`,
      `write ${JOURNAL}@8 records`,
      `sync ${JOURNAL}`,
    ]);
  });

  it('finishes short writes where they stopped', () => {
    const { io, calls } = recorder(4);
    assert.deepEqual(runCommitJob(job(), io), { ok: true });
    assert.deepEqual(
      calls.filter((c) => c.startsWith('write')),
      [
        `write ${SEG_A}@100 aaaa`,
        `write ${SEG_B}@0 bbbb`,
        `write ${SEG_B}@4 bb`,
        `write ${JOURNAL}@8 reco`,
        `write ${JOURNAL}@12 rds`,
      ],
    );
  });

  it('a failed data sync stops the job before the journal is touched, and names the step', () => {
    const { io, calls } = recorder(Infinity, `sync ${SEG_B}`);
    const reply = runCommitJob(job(), io);
    assert.deepEqual(reply, {
      ok: false,
      failedAt: 'data',
      message: 'EIO: i/o error',
      code: 'EIO',
      errno: -5,
      syscall: 'fdatasync',
    });
    assert.ok(!calls.some((c) => c.includes(`${JOURNAL}`)), calls.join(', '));
  });

  it('a failed journal write or sync names its step', () => {
    const write = recorder(Infinity, `write ${JOURNAL}@8 records`);
    assert.equal((runCommitJob(job(), write.io) as { failedAt: string }).failedAt, 'journal-write');
    const sync = recorder(Infinity, `sync ${JOURNAL}`);
    assert.equal((runCommitJob(job(), sync.io) as { failedAt: string }).failedAt, 'journal-sync');
  });

  it('without durability, nothing is synced', () => {
    const { io, calls } = recorder();
    assert.deepEqual(runCommitJob({ ...job(), syncFds: [], syncJournal: false }, io), { ok: true });
    assert.ok(!calls.some((c) => c.startsWith('sync')));
  });
});

describe('commit syncer (a real worker thread and real files)', () => {
  it('puts every entry at its position, adjacent ones joined or not, out of order, across jobs that reuse the arena', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hoard-commit-'));
    const syncer = new CommitSyncer();
    const seg = await open(path.join(dir, 'seg'), 'w+');
    const journal = await open(path.join(dir, 'journal'), 'w+');
    try {
      const b = (text: string) => Buffer.from(text);
      await syncer.run({
        writes: [
          { fd: seg.fd, position: 6, buffers: [b('CC'), b('C')] },
          { fd: seg.fd, position: 0, buffers: [b('AAA')] },
          { fd: seg.fd, position: 3, buffers: [b('BBB')] },
          { fd: seg.fd, position: 12, buffers: [b('EE')] }, // a hole before it: a reserved range never written
        ],
        syncFds: [seg.fd],
        journalFd: journal.fd,
        journalPosition: 0,
        records: [b('r1'), b('r2')],
        syncJournal: true,
      });
      await syncer.run({
        writes: [{ fd: seg.fd, position: 9, buffers: [b('DDD')] }],
        syncFds: [seg.fd],
        journalFd: journal.fd,
        journalPosition: 4,
        records: [b('r3')],
        syncJournal: true,
      });
      assert.equal((await readFile(path.join(dir, 'seg'))).toString(), 'AAABBBCCCDDDEE');
      assert.equal((await readFile(path.join(dir, 'journal'))).toString(), 'r1r2r3');
      // A step that fails names itself: here the data sync of a descriptor that is not open.
      await assert.rejects(
        syncer.run({
          writes: [],
          syncFds: [999_999],
          journalFd: journal.fd,
          journalPosition: 6,
          records: [b('r4')],
          syncJournal: true,
        }),
        (e) => e instanceof CommitFailed && e.failedAt === 'data' && e.code === 'EBADF',
      );
      assert.equal((await readFile(path.join(dir, 'journal'))).toString(), 'r1r2r3', 'the journal was not touched');
    } finally {
      await seg.close();
      await journal.close();
      await syncer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
