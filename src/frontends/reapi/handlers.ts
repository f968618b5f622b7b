// Adapters from promise-returning service functions to grpc-js handlers: every outcome,
// thrown or returned, becomes exactly one gRPC status (rule 7: never a crash, never a
// hang), and each call is counted in the metrics and logged when it fails unexpectedly.
import { once } from 'node:events';
import { constants as http2 } from 'node:http2';
import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type ServiceError } from '@grpc/grpc-js';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { wellFormed } from './grpc-definitions.ts';
import { idleError } from './message-reader.ts';
import { toServiceError } from './status.ts';
import type { ReapiContext } from './request-context.ts';

const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]),
);

/** Records one finished call; logs server-side failures (INTERNAL, DATA_LOSS, UNKNOWN). */
function recordCall(ctx: ReapiContext, method: string, started: number, err: ServiceError | null): void {
  const code = err ? err.code : status.OK;
  ctx.metrics?.request('grpc', method, STATUS_NAMES[code] ?? String(code), (performance.now() - started) / 1000);
  if (err) {
    if (code === status.INTERNAL || code === status.DATA_LOSS || code === status.UNKNOWN) {
      ctx.logger?.error({ method, code: STATUS_NAMES[code], err }, 'REAPI call failed');
    } else {
      ctx.logger?.debug({ method, code: STATUS_NAMES[code], details: err.details }, 'REAPI call refused');
    }
  }
}

interface CallEvents {
  on(event: 'cancelled', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * The lifecycle every handler shares: `run` gets a signal that the client's cancel (or a
 * transport error) aborts, and its one outcome, returned or thrown, is recorded and handed
 * to `finish` as a status; `aborted` says the client is gone and will hear nothing.
 */
export function runCall<Res>(
  ctx: ReapiContext,
  method: string,
  call: CallEvents,
  run: (signal: AbortSignal) => Promise<Res>,
  finish: (err: ServiceError | null, res: Res | undefined, aborted: boolean) => void,
): void {
  const started = performance.now();
  const ac = new AbortController();
  let done = false; // grpc-js reports 'cancelled' for finished calls too: ignore those
  // The reason is built only on a real cancel (one per call showed up in profiles); Aborted
  // is what tells an upload it was cut, so its spool is kept for resumption.
  call.on('cancelled', () => done || ac.abort(new HoardError(ErrorCode.Aborted, `the client cancelled the ${method}`)));
  // A listener must exist: a transport error on an unobserved stream would crash the process.
  call.on('error', (err) => done || ac.abort(err));
  (async () => run(ac.signal))().then(
    (res) => {
      done = true;
      recordCall(ctx, method, started, null);
      finish(null, res, false);
    },
    (err: unknown) => {
      done = true;
      const se = toServiceError(err);
      recordCall(ctx, method, started, se);
      finish(se, undefined, ac.signal.aborted);
    },
  );
}

export function unary<Req, Res>(
  ctx: ReapiContext,
  method: string,
  fn: (req: Req, signal: AbortSignal) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => runCall(ctx, method, call, (signal) => fn(wellFormed(call.request), signal), (err, res) => (err ? callback(err) : callback(null, res)));
}

/** A server-streaming handler: `fn` writes the messages; the call ends with its outcome. */
export function serverStream<Req>(
  ctx: ReapiContext,
  method: string,
  fn: (call: ServerWritableStream<Req, unknown>, signal: AbortSignal) => Promise<void>,
): (call: ServerWritableStream<Req, unknown>) => void {
  return (call) =>
    runCall(ctx, method, call, (signal) => fn(call, signal), (err, _res, aborted) => {
      if (!err) call.end();
      else if (!aborted) failStream(call, err);
    });
}

/**
 * Ends a server-streaming call with an error status. grpc-js 1.14 sends no status for
 * `call.destroy(err)` (the client hangs until its deadline, protocols.md §8); emitting
 * 'error' with a `code` does send it.
 */
function failStream(call: { emit(event: 'error', err: ServiceError): boolean }, err: ServiceError): void {
  call.emit('error', err);
}

/**
 * Writes one message of a server stream. When the client's window is full, waits for it to
 * read on, but at most `idleMs` without progress (rule 7: a client that stops reading must
 * not hold the call and its store stream forever). Then the stream is reset, since a status
 * would queue behind the unread messages and never arrive, and the idle error is thrown.
 */
export async function sendMessage(call: ServerWritableStream<unknown, unknown>, msg: unknown, signal: AbortSignal, idleMs: number): Promise<void> {
  if (call.write(msg)) return;
  if (idleMs === 0) {
    await once(call, 'drain', { signal });
    return;
  }
  const idle = new AbortController();
  const timer = setTimeout(() => idle.abort(), idleMs);
  try {
    await once(call, 'drain', { signal: AbortSignal.any([signal, idle.signal]) });
  } catch (err) {
    if (!idle.signal.aborted || signal.aborted) throw err;
    resetStream(call);
    throw idleError(idleMs, 'read nothing');
  } finally {
    clearTimeout(timer);
  }
}

interface CallInternals {
  call?: { stream?: { close(code: number): void }; nextCall?: unknown };
}

/**
 * RST_STREAM(CANCEL) on the call's HTTP/2 stream, which grpc-js exposes no API for (its own
 * deadline has the same blind spot). Reached through internals checked to exist; should a
 * grpc-js rename them, the call falls back to the connection's keepalive and idle limits.
 */
function resetStream(call: object): void {
  let c = (call as CallInternals).call;
  for (let i = 0; c && !c.stream && i < 8; i++) c = c.nextCall as CallInternals['call'];
  c?.stream?.close(http2.NGHTTP2_CANCEL);
}
