// Adapters from promise-returning service functions to transport calls: every outcome,
// thrown or returned, becomes exactly one gRPC status (rule 7: never a crash, never a
// hang), and each call is counted in the metrics and logged when it fails unexpectedly.
import { status } from '@grpc/grpc-js';
import { wellFormed } from './grpc-definitions.ts';
import type { CallHandler, CallStatus, GrpcCall } from './grpc-transport.ts';
import { idleError } from './message-reader.ts';
import { toServiceError } from './status.ts';
import type { ReapiContext } from './request-context.ts';

const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

const OK: CallStatus = { code: status.OK, details: '' };

/** Records one finished call; logs server-side failures (INTERNAL, DATA_LOSS, UNKNOWN). */
export function recordCall(
  ctx: ReapiContext,
  method: string,
  started: number,
  outcome: CallStatus,
  err?: unknown,
): void {
  const code = outcome.code;
  ctx.metrics?.request('grpc', method, STATUS_NAMES[code] ?? String(code), (performance.now() - started) / 1000);
  if (code === status.INTERNAL || code === status.DATA_LOSS || code === status.UNKNOWN) {
    ctx.logger?.error({ method, code: STATUS_NAMES[code], err }, 'REAPI call failed');
  } else if (code !== status.OK) {
    ctx.logger?.debug({ method, code: STATUS_NAMES[code], details: outcome.details }, 'REAPI call refused');
  }
}

/**
 * The lifecycle every handler shares: `run` gets the call's signal (aborted by a client
 * cancel, a dropped connection or the deadline), and its one outcome, returned or thrown,
 * is recorded and sent as the call's status; with `respond`, a returned value is the
 * single response message. A call whose client is gone sends nothing.
 */
export function runCall<Res>(
  ctx: ReapiContext,
  method: string,
  call: GrpcCall,
  run: (signal: AbortSignal) => Promise<Res>,
  respond: boolean,
): void {
  const started = performance.now();
  (async () => run(call.signal))().then(
    (res) => {
      call.finish(OK, respond ? res : undefined);
      recordCall(ctx, method, started, call.sentStatus ?? OK);
    },
    (err: unknown) => {
      const se = toServiceError(err);
      const outcome = { code: se.code, details: se.details };
      call.finish(outcome);
      // What the client was told, when the transport answered first (deadline, malformed
      // frame, oversized message); the handler's own view when the client is gone.
      recordCall(ctx, method, started, call.sentStatus ?? outcome, err);
    },
  );
}

export function unary<Req, Res>(
  ctx: ReapiContext,
  method: string,
  fn: (req: Req, signal: AbortSignal) => Promise<Res>,
): CallHandler {
  return (call) => runCall(ctx, method, call, (signal) => fn(wellFormed(call.request as Req), signal), true);
}

/** A server-streaming handler: `fn` writes the messages; the call ends with its outcome. */
export function serverStream(
  ctx: ReapiContext,
  method: string,
  fn: (call: GrpcCall, signal: AbortSignal) => Promise<void>,
): CallHandler {
  return (call) => runCall(ctx, method, call, (signal) => fn(call, signal), false);
}

/**
 * Writes one message of a server stream. When the client's window is full, waits for it to
 * read on, but at most `idleMs` without progress (rule 7: a client that stops reading must
 * not hold the call and its store stream forever). Then the stream is reset, since a status
 * would queue behind the unread messages and never arrive, and the idle error is thrown.
 */
export async function sendMessage(
  call: GrpcCall,
  msg: unknown,
  signal: AbortSignal,
  idleMs: number,
  written?: () => void,
): Promise<void> {
  if (call.write(msg, written)) return;
  if (idleMs === 0) {
    await call.drained(signal);
    return;
  }
  const idle = new AbortController();
  const timer = setTimeout(() => idle.abort(), idleMs);
  try {
    await call.drained(AbortSignal.any([signal, idle.signal]));
  } catch (err) {
    if (!idle.signal.aborted || signal.aborted) throw err;
    call.reset();
    throw idleError(idleMs, 'read nothing');
  } finally {
    clearTimeout(timer);
  }
}
