// What a store's close() waits for: every put it accepted, whatever its keyspace. The
// store stops accepting first, so the set only shrinks while close() waits.

export class InFlight {
  readonly #pending = new Set<Promise<unknown>>();

  /** Returns `work`, counted until it settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work);
    const forget = () => this.#pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Settles when every tracked promise has (failures included). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#pending);
  }
}
