// Pulls a client stream's messages one at a time, giving up as soon as a signal aborts
// (client cancel, or the upload became pointless) or the client sends nothing for
// `idleMs` (0: no bound; rule 7: a stalled client must not hold a call, a spool and a temp file
// forever; keepalive only notices dead peers). Pulling instead of listening to 'data' is
// what lets the store's pace back-pressure the sender; the idle clock runs only while
// waiting for the client, never while the store is busy.
import { ErrorCode, HoardError } from '../../core/errors.ts';

export class MessageReader<T> {
  readonly #it: AsyncIterator<T>;
  readonly #idleMs: number;
  #done = false;

  constructor(stream: AsyncIterable<T>, idleMs: number) {
    this.#it = stream[Symbol.asyncIterator]();
    this.#idleMs = idleMs;
  }

  /** The next message, or undefined once the client half-closed. Throws on abort or idle (Aborted). */
  async next(signal: AbortSignal): Promise<T | undefined> {
    if (this.#done) return undefined;
    signal.throwIfAborted();
    const pending = this.#it.next();
    let onAbort: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason ?? new HoardError(ErrorCode.Aborted, 'the transfer was aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      if (this.#idleMs > 0) timer = setTimeout(() => reject(idleError(this.#idleMs, 'sent nothing')), this.#idleMs);
    });
    try {
      const r = await Promise.race([pending, stopped]);
      if (r.done) this.#done = true;
      return r.done ? undefined : r.value;
    } catch (err) {
      pending.catch(() => undefined); // the stream may still fail later; nobody waits for it
      throw err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort!);
    }
  }
}

/** The ABORTED error of a client that made no progress for `idleMs` (resumable, so not INVALID_ARGUMENT). */
export function idleError(idleMs: number, what: string): HoardError {
  return new HoardError(
    ErrorCode.Aborted,
    `the client ${what} for ${idleMs / 1000} s (bodyIdleTimeout); the call was ended`,
  );
}
