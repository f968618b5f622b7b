// Adapters from promise-returning service functions to transport calls: every call is
// admitted by the call chain before it touches the store, every outcome, thrown or
// returned, becomes exactly one gRPC status (rule 7: never a crash, never a hang), and the
// chain hears each call once (access log, metrics, error counting).
import { status } from '@grpc/grpc-js';
import { wellFormed } from './grpc-definitions.ts';
import { causeOf, isHoardError } from '../../core/errors.ts';
import type { CallHandler, CallStatus, GrpcCall, RefusedCall } from './grpc-transport.ts';
import { idleError } from './message-reader.ts';
import { ReapiCall } from './reapi-call.ts';
import { namespaceOf, type ReapiContext } from './request-context.ts';
import { toServiceError } from './status.ts';

const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

const OK: CallStatus = { code: status.OK, details: '' };

/**
 * Hands one finished call to the chain (access log, metrics, error counting) and logs
 * server-side failures (INTERNAL, DATA_LOSS, UNKNOWN). `outcome` is what the client was told.
 */
export function recordCall(ctx: ReapiContext, call: ReapiCall, outcome: CallStatus, err?: unknown): void {
  const code = outcome.code;
  const name = STATUS_NAMES[code] ?? String(code);
  if (code === status.INTERNAL || code === status.DATA_LOSS || code === status.UNKNOWN) {
    call.error = err;
    ctx.logger?.error({ method: call.operation, code: name, err }, 'REAPI call failed');
  } else if (code !== status.OK) {
    ctx.logger?.debug({ method: call.operation, code: name, details: outcome.details }, 'REAPI call refused');
  }
  if (isHoardError(err)) call.cause = causeOf(err);
  ctx.chain.finish(call, {
    status: name,
    // A miss is NOT_FOUND in REAPI: an answer, not a failure.
    ok: code === status.OK || code === status.NOT_FOUND,
    seconds: (performance.now() - call.startedAt) / 1000,
  });
}

/** The description of a call the transport refused before any handler ran. */
export function refusedCall(ctx: ReapiContext, refused: RefusedCall): void {
  const call = new ReapiCall(refused.method, refused.path, refused.startedAt, refused.headers, () => refused.peer);
  recordCall(ctx, call, refused.status);
}

/**
 * Asks the chain to admit a call whose namespace is now known. Every handler does this
 * before it touches the store: `unary` and `serverStream` from the request message, a
 * client-streaming handler once its first message named the resource.
 */
export function admit(ctx: ReapiContext, call: ReapiCall, namespace: string): void | Promise<void> {
  call.namespace = namespace;
  return ctx.chain.admit(call);
}

/**
 * The lifecycle every handler shares: `run` gets the call's signal (aborted by a client
 * cancel, a dropped connection or the deadline) and its description, and its one outcome,
 * returned or thrown, is recorded and sent as the call's status; with `respond`, a returned
 * value is the single response message. A call whose client is gone sends nothing.
 */
export function runCall<Res>(
  ctx: ReapiContext,
  method: string,
  grpc: GrpcCall,
  run: (signal: AbortSignal, call: ReapiCall) => Promise<Res>,
  respond: boolean,
): void {
  const call = new ReapiCall(method, grpc.method.path, performance.now(), grpc.headers, () => grpc.peer);
  (async () => run(grpc.signal, call))().then(
    (res) => {
      grpc.finish(OK, respond ? res : undefined);
      recordCall(ctx, call, grpc.sentStatus ?? OK);
    },
    (err: unknown) => {
      const se = toServiceError(err);
      const outcome = { code: se.code, details: se.details };
      grpc.finish(outcome);
      // What the client was told, when the transport answered first (deadline, malformed
      // frame, oversized message); the handler's own view when the client is gone.
      recordCall(ctx, call, grpc.sentStatus ?? outcome, err);
    },
  );
}

/** The namespace a request message names: its instance_name. */
function instanceNamespace(ctx: ReapiContext, request: unknown): string {
  return namespaceOf(ctx, (request as { instanceName?: string }).instanceName);
}

/**
 * A call that starts with its one request message in hand: admitted for the namespace
 * `namespace(request)` gives (by default the request's instance_name), then `fn` runs.
 */
function admitted<Req, Res>(
  ctx: ReapiContext,
  method: string,
  fn: (req: Req, grpc: GrpcCall, signal: AbortSignal) => Promise<Res>,
  namespace: (req: Req) => string,
  respond: boolean,
): CallHandler {
  return (grpc) =>
    runCall(
      ctx,
      method,
      grpc,
      (signal, call) => {
        const req = wellFormed(grpc.request as Req);
        const admitting = admit(ctx, call, namespace(req));
        return admitting === undefined ? fn(req, grpc, signal) : admitting.then(() => fn(req, grpc, signal));
      },
      respond,
    );
}

/** A unary handler: admitted (see `admitted`), then `fn` answers the request. */
export function unary<Req, Res>(
  ctx: ReapiContext,
  method: string,
  fn: (req: Req, signal: AbortSignal) => Promise<Res>,
  namespace: (req: Req) => string = (req) => instanceNamespace(ctx, req),
): CallHandler {
  return admitted(ctx, method, (req: Req, _grpc, signal) => fn(req, signal), namespace, true);
}

/** A server-streaming handler: admitted, then `fn` writes the messages; the call ends with its outcome. */
export function serverStream<Req>(
  ctx: ReapiContext,
  method: string,
  fn: (call: GrpcCall, signal: AbortSignal) => Promise<void>,
  namespace: (req: Req) => string = (req) => instanceNamespace(ctx, req),
): CallHandler {
  return admitted(ctx, method, (_req: Req, grpc, signal) => fn(grpc, signal), namespace, false);
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
