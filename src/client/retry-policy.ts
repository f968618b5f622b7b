// Rule 5 lives here: ONE registry says which client operations are safe to repeat, and one
// loop retries only those. Unknown operations are unsafe (docs/CORRECTNESS.md#origin-idle-cut: an
// `append` repeated after a dropped reply corrupts a pack file; only operations whose
// repetition leaves the same state may be retried).
//
// A safe operation is retried when it failed with a transient condition: the connection
// dropped (e.g. an idle connection a proxy had cut, reused by the pool), no progress within
// the idle timeout, HTTP 500/502/503/504 (docs/PROTOCOLS.md §1.5) or gRPC UNKNOWN,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE (docs/PROTOCOLS.md §2.8.2). Retries are
// bounded (default 5), back off exponentially from 100 ms to 5 s with ±10% jitter, and stop
// at once when connecting itself fails: a dead server gives a clear error quickly.
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientError } from './client-error.ts';
import type { ClientEvent, RetryOptions } from './types.ts';

export type Safety = 'safe' | 'unsafe';

interface OperationEntry {
  readonly safety: Safety;
  /** Why repeating it is (or is not) harmless. */
  readonly reason: string;
}

/** Every operation the client performs. Adding one means deciding here, with a reason. */
export const OPERATIONS: Readonly<Record<string, OperationEntry>> = Object.freeze({
  capabilities: { safety: 'safe', reason: 'read-only' },
  findMissing: { safety: 'safe', reason: 'read-only' },
  has: { safety: 'safe', reason: 'read-only' },
  'cas.get': { safety: 'safe', reason: 'read-only; a broken download resumes at the bytes already received' },
  'ac.get': { safety: 'safe', reason: 'read-only' },
  'cas.put': { safety: 'safe', reason: 'content-addressed: the same digest always carries the same bytes' },
  'ac.put': { safety: 'safe', reason: 'same key, same value: a repeat leaves the same entry' },
  'bytestream.write': {
    safety: 'safe',
    reason:
      'content-addressed; each attempt after the first asks QueryWriteStatus (read-only) and resumes at committed_size',
  },
  'cas.delete': { safety: 'unsafe', reason: 'a repeat may delete a copy another client uploaded in between' },
});

export function safetyOf(operation: string): Safety {
  return Object.hasOwn(OPERATIONS, operation) ? (OPERATIONS[operation] as OperationEntry).safety : 'unsafe';
}

const TRANSIENT_HTTP = new Set([500, 502, 503, 504]);
// gRPC: UNKNOWN 2, DEADLINE_EXCEEDED 4, RESOURCE_EXHAUSTED 8, ABORTED 10, INTERNAL 13, UNAVAILABLE 14.
const TRANSIENT_GRPC = new Set([2, 4, 8, 10, 13, 14]);

/** Could the same request succeed if sent again on a fresh connection? */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ClientError)) return false;
  switch (err.kind) {
    case 'dropped':
    case 'timeout':
      return true;
    case 'status':
      return (
        (err.httpStatus !== undefined && TRANSIENT_HTTP.has(err.httpStatus)) ||
        (err.grpcCode !== undefined && TRANSIENT_GRPC.has(err.grpcCode))
      );
    default:
      return false; // connect failures stop at once; aborts and protocol errors are final
  }
}

export interface RetryContext {
  readonly operation: string;
  readonly server: string;
  readonly retry?: RetryOptions;
  readonly onEvent?: (e: ClientEvent) => void;
  readonly signal?: AbortSignal;
}

export function backoffDelay(attempt: number, retry: RetryOptions = {}): number {
  const base = retry.baseDelayMs ?? 100;
  const max = retry.maxDelayMs ?? 5000;
  const raw = Math.min(max, base * 2 ** attempt);
  return Math.round(raw * (0.9 + Math.random() * 0.2));
}

/**
 * The one retry decision, for every retry loop of the client: after `failures` failed
 * attempts of ctx.operation (the last ended by `err`), the delay before the next attempt,
 * or undefined to give up: the operation is not registered safe, the caller aborted, the
 * failure is not transient, or the budget is spent. The first retry after a dropped
 * connection is immediate (the pool had handed out a stale connection, or a stream broke
 * after bytes moved: the server is fine); later ones back off.
 */
export function retryDelay(ctx: RetryContext, err: unknown, failures: number): number | undefined {
  const budget = safetyOf(ctx.operation) === 'safe' ? (ctx.retry?.retries ?? 5) : 0;
  if (ctx.signal?.aborted || failures >= budget || !isTransient(err)) return undefined;
  return failures === 0 && (err as ClientError).kind === 'dropped' ? 0 : backoffDelay(failures, ctx.retry);
}

/** Runs `attempt` until it succeeds or retryDelay gives up. */
export async function withRetry<T>(ctx: RetryContext, attempt: (n: number) => Promise<T>): Promise<T> {
  let dropped: ClientError | undefined;
  for (let n = 0; ; n++) {
    try {
      const result = await attempt(n);
      if (dropped)
        ctx.onEvent?.({ type: 'reconnected', server: ctx.server, operation: ctx.operation, after: dropped.message });
      return result;
    } catch (err) {
      const delayMs = retryDelay(ctx, err, n);
      if (delayMs === undefined) throw explain(err, ctx, n, dropped);
      const e = err as ClientError;
      if (e.kind === 'dropped') dropped = e;
      ctx.onEvent?.({
        type: 'retry',
        server: ctx.server,
        operation: ctx.operation,
        attempt: n + 1,
        delayMs,
        reason: e.message,
      });
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: ctx.signal });
    }
  }
}

function explain(err: unknown, ctx: RetryContext, attempts: number, dropped: ClientError | undefined): unknown {
  if (!(err instanceof ClientError) || attempts === 0) return err;
  const context =
    err.kind === 'connect' && dropped
      ? `reconnecting after "${dropped.message}" failed`
      : `gave up after ${attempts + 1} attempts`;
  return new ClientError(`${ctx.operation} on ${ctx.server}: ${context}: ${err.message}`, {
    server: err.server,
    kind: err.kind,
    code: err.code,
    httpStatus: err.httpStatus,
    grpcCode: err.grpcCode,
    cause: err,
  });
}
