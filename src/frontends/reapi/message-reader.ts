// Pulls a client stream's messages one at a time, giving up as soon as a signal aborts
// (client cancel, or the upload became pointless). Pulling instead of listening to
// 'data' is what lets the store's pace back-pressure the sender.
import { ErrorCode, HoardError } from '../../core/errors.ts';

export class MessageReader<T> {
  readonly #it: AsyncIterator<T>;
  #done = false;

  constructor(stream: AsyncIterable<T>) {
    this.#it = stream[Symbol.asyncIterator]();
  }

  /** The next message, or undefined once the client half-closed. Throws on abort. */
  async next(signal: AbortSignal): Promise<T | undefined> {
    if (this.#done) return undefined;
    signal.throwIfAborted();
    const pending = this.#it.next();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason ?? new HoardError(ErrorCode.Aborted, 'the transfer was aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const r = await Promise.race([pending, aborted]);
      if (r.done) this.#done = true;
      return r.done ? undefined : r.value;
    } catch (err) {
      pending.catch(() => undefined); // the stream may still fail later; nobody waits for it
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }
}
