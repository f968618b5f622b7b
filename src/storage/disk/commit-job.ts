// One group commit's I/O as the commit worker runs it, with blocking calls: data first,
// synced, then the journal records, then their sync. A crash never leaves a record naming
// bytes that are not durable (rule 1), and a failed step stops the job.
import { fdatasyncSync, writeSync } from 'node:fs';
import type { CommitJob, CommitReply, CommitStep } from './commit-syncer.ts';

/** The two calls a commit makes, apart so a test can record their order. */
export interface CommitIo {
  write(fd: number, data: Uint8Array, position: number): number;
  fdatasync(fd: number): void;
}

const fileIo: CommitIo = {
  write: (fd, data, position) => writeSync(fd, data, 0, data.byteLength, position),
  fdatasync: (fd) => fdatasyncSync(fd),
};

export function runCommitJob(job: CommitJob, io: CommitIo = fileIo): CommitReply {
  let step: CommitStep = 'data';
  try {
    const arena = new Uint8Array(job.arena);
    for (const w of job.writes) writeAll(io, w.fd, arena.subarray(w.start, w.start + w.length), w.position);
    for (const fd of job.syncFds) io.fdatasync(fd);
    step = 'journal-write';
    writeAll(
      io,
      job.journalFd,
      arena.subarray(job.records.start, job.records.start + job.records.length),
      job.journalPosition,
    );
    step = 'journal-sync';
    if (job.syncJournal) io.fdatasync(job.journalFd);
    return { ok: true };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, failedAt: step, message: e.message, code: e.code, errno: e.errno, syscall: e.syscall };
  }
}

/** Finishes a short write: rare on regular files, but a partial entry must never pass for a whole one. */
function writeAll(io: CommitIo, fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) {
    const n = io.write(fd, data.subarray(done), position + done);
    if (n === 0) throw new Error('write wrote nothing');
    done += n;
  }
}
