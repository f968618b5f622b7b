// The commit worker thread (see commit-syncer.ts): runs each job it is sent and answers.
// Nothing else runs on this thread, so each step follows the previous one at once instead
// of waiting its turn on a busy event loop.
import { parentPort } from 'node:worker_threads';
import { runCommitJob } from './commit-job.ts';
import type { CommitAnswer, CommitJob } from './commit-syncer.ts';

parentPort!.on('message', (job: CommitJob) => {
  const answer: CommitAnswer = { reply: runCommitJob(job), arena: job.arena };
  parentPort!.postMessage(answer, [job.arena]); // the arena goes back for the next job
});
