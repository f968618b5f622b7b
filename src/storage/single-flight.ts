// Rule 1's "concurrent uploads of the same digest are safe": one put of a CAS blob writes,
// the others wait for it. When it succeeds they drain their own bodies and report
// `exists`; when it fails (a bad upload cannot spoil a good one) the next waiter writes.
// A drained body is still verified (rule 7): wrong bytes under a present digest fail as
// they would for an absent one, instead of answering success.
import { receive, type ReceiveOptions } from '../core/receive.ts';
import type { Body, PutOutcome } from './store.ts';

export class SingleFlight {
  readonly #inflight = new Map<string, Promise<unknown>>();

  /**
   * Runs `write` unless `present()` says the blob is there (now, or once the put in flight
   * for `id` has finished), in which case `body` is drained, checked against `verify`
   * (size, hash, limits) and the answer is `exists`.
   */
  async put(
    id: string,
    body: Body,
    verify: ReceiveOptions,
    present: () => boolean,
    write: () => Promise<PutOutcome>,
  ): Promise<PutOutcome> {
    for (;;) {
      if (present()) {
        await receive(body, verify, () => undefined);
        return 'exists';
      }
      const pending = this.#inflight.get(id);
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    const work = write();
    this.#inflight.set(id, work);
    try {
      return await work;
    } finally {
      this.#inflight.delete(id);
    }
  }
}
