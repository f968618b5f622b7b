// The commit worker thread (see commit-syncer.ts): runs each job it is sent and answers.
// Nothing else runs on this thread, so each step follows the previous one at once instead
// of waiting its turn on a busy event loop.
import { parentPort } from 'node:worker_threads';
import { runCommitJob } from './commit-job.ts';
import type { CommitJob } from './commit-syncer.ts';

parentPort!.on('message', (job: CommitJob) => {
  parentPort!.postMessage(runCommitJob(job));
});
