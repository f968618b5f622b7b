// The control messages between the main thread (request-threads.ts) and a request thread
// (request-thread.ts), over the thread's parentPort. Store traffic has a port of its own
// (store-messages.ts), so a large upload never queues a drain or a metrics scrape.
import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../config/schema.ts';
import type { MetricsSnapshot } from '../metrics/metrics.ts';
import type { StoreUsage } from '../storage/store.ts';

/** What a request thread starts from (its workerData). */
export interface RequestThreadData {
  readonly config: Config;
  /** 1-based, in log lines and the spool directory's name. */
  readonly index: number;
  readonly storePort: MessagePort;
  readonly usage: StoreUsage;
  /** The ports to share (0 for the first thread: the kernel picks one, the others follow it). */
  readonly httpPort: number;
  readonly grpcPort: number | undefined;
  /** Send log lines to the main thread's logger (an embedder's) instead of to stdout. */
  readonly forwardLogs: boolean;
}

export type AdminQuestion = 'metrics' | 'status' | 'status-history';

/** Main thread → request thread. */
export type ToThread =
  | { readonly t: 'drain'; readonly deadline: number }
  | { readonly t: 'abort' }
  | { readonly t: 'snapshot'; readonly id: number }
  | { readonly t: 'answer'; readonly id: number; readonly value: unknown };

/** Request thread → main thread. */
export type FromThread =
  | { readonly t: 'ready'; readonly http: string; readonly grpc: string | undefined }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'drained' }
  | { readonly t: 'snapshot'; readonly id: number; readonly snapshot: MetricsSnapshot }
  | { readonly t: 'ask'; readonly id: number; readonly question: AdminQuestion }
  | { readonly t: 'log'; readonly line: string };
