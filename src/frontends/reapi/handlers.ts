// Adapters from promise-returning service functions to grpc-js handlers: every outcome,
// thrown or returned, becomes exactly one gRPC status (rule 7: never a crash, never a
// hang), and each call is counted in the metrics and logged when it fails unexpectedly.
import { status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { wellFormed } from './grpc-definitions.ts';
import { toServiceError } from './status.ts';
import type { ReapiContext } from './request-context.ts';

export const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]),
);

/** Records one finished call; logs server-side failures (INTERNAL, DATA_LOSS, UNKNOWN). */
export function recordCall(ctx: ReapiContext, method: string, started: number, err: ServiceError | null): void {
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

export function unary<Req, Res>(
  ctx: ReapiContext,
  method: string,
  fn: (req: Req, signal: AbortSignal) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const started = performance.now();
    const ac = new AbortController();
    let done = false; // grpc-js reports 'cancelled' for finished calls too: ignore those
    call.on('cancelled', () => done || ac.abort());
    const run = async (): Promise<Res> => fn(wellFormed(call.request), ac.signal);
    run().then(
      (res) => {
        done = true;
        recordCall(ctx, method, started, null);
        callback(null, res);
      },
      (err: unknown) => {
        done = true;
        const se = toServiceError(err);
        recordCall(ctx, method, started, se);
        callback(se);
      },
    );
  };
}

/**
 * Ends a server-streaming call with an error status. grpc-js 1.14 sends no status for
 * `call.destroy(err)` (the client hangs until its deadline, protocols.md §8); emitting
 * 'error' with a `code` does send it.
 */
export function failStream(call: { emit(event: 'error', err: ServiceError): boolean }, err: ServiceError): void {
  call.emit('error', err);
}
