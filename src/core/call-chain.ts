// Composes interceptors into one chain. Admission stays synchronous while every interceptor
// is: a call on the hot path allocates no promise for a chain that only logs and counts.
import type { Call, CallChain, CallOutcome, Interceptor } from './call.ts';

/** A chain that admits every call and hears nothing (an embedded frontend without a server). */
export const EMPTY_CHAIN: CallChain = { admit: () => undefined, finish: () => undefined, close: () => undefined };

export function createCallChain(interceptors: readonly Interceptor[]): CallChain {
  const admitters = interceptors.filter((i) => i.admit !== undefined);
  const finishers = interceptors.filter((i) => i.finish !== undefined);
  return {
    admit(call) {
      for (let i = 0; i < admitters.length; i++) {
        const pending = admitters[i]!.admit!(call);
        if (pending !== undefined) return admitRest(pending, admitters, i + 1, call);
      }
      return undefined;
    },
    finish(call, outcome) {
      for (const f of finishers) f.finish!(call, outcome);
    },
    close() {
      for (const i of interceptors) i.close?.();
    },
  };
}

async function admitRest(
  pending: Promise<void>,
  admitters: readonly Interceptor[],
  from: number,
  call: Call,
): Promise<void> {
  await pending;
  for (let i = from; i < admitters.length; i++) await admitters[i]!.admit!(call);
}

/** Milliseconds with one decimal, as the access log prints them. */
export function roundedMs(outcome: CallOutcome): number {
  return Math.round(outcome.seconds * 1e4) / 10;
}
