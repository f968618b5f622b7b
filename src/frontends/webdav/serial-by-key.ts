// Runs tasks one at a time per key, in arrival order, and tasks of different keys freely:
// the read-modify-write of one collection record must not interleave with another on the
// same record (two PUTs into one directory would each write back a list without the
// other's member). Within this thread only: another request thread has its own instance.

export class SerialByKey {
  /** The last task queued per key; removed once it settles and nothing queued behind it. */
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every task queued earlier for `key` has settled; its result or error. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key);
    // `before` never rejects (it is a tail), so `task` runs whatever the earlier one did.
    const mine = before === undefined ? task() : before.then(task);
    const tail = mine.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return mine;
  }

  /** Keys with a task queued or running (for tests: the map does not grow without bound). */
  get size(): number {
    return this.#tails.size;
  }
}
