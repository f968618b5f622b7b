// Slows down an address that keeps failing authentication: after a few refusals with less
// than a minute between them, each further refusal is answered later, twice as late each time up to a cap, so
// guessing passwords or tokens from one address costs the guesser time. Only refusals wait:
// a client whose credentials verify is never slowed. The table is bounded (oldest first out).

const WINDOW_MS = 60_000;
const FREE_FAILURES = 10;
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;
const MAX_ADDRESSES = 10_000;

interface Record {
  failures: number;
  last: number;
}

export class FailureThrottle {
  readonly #byAddress = new Map<string, Record>();

  /** Counts a refusal from `address`; returns how long to wait before answering it (ms). */
  fail(address: string | undefined, now = Date.now()): number {
    if (address === undefined) return 0;
    let r = this.#byAddress.get(address);
    if (r === undefined || now - r.last > WINDOW_MS) {
      r = { failures: 0, last: now };
      if (this.#byAddress.size >= MAX_ADDRESSES) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    }
    this.#byAddress.delete(address); // re-insert: the most recently failing go last
    this.#byAddress.set(address, r);
    r.failures++;
    r.last = now;
    const over = r.failures - FREE_FAILURES;
    return over <= 0 ? 0 : Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (over - 1));
  }
}
