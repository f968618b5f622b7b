// A file read at start and read again when it changes (polled, as the TLS pair is): the
// parsed value stays the one last read successfully, so a half-written or broken file
// never drops access control; the failure is logged, without the file's content.
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';

const POLL_MS = 2000;

export interface FileLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class WatchedFile<T> {
  #value: T;
  readonly #file: string;
  readonly #onChange: (now: Stats, before: Stats) => void;

  /** Reads and parses `file` now; throws an Error naming `flag` and the file when it cannot. */
  constructor(file: string, flag: string, parse: (text: string) => T, logger: FileLogger, onReload?: () => void) {
    this.#file = file;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        cause: err,
      });
    }
    this.#value = parse(text);
    let reading = false;
    this.#onChange = (now, before) => {
      if (reading || (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size)) return;
      reading = true;
      readFile(file, 'utf8')
        .then((t) => {
          this.#value = parse(t);
          onReload?.();
          logger.info({ file, flag }, 'reloaded');
        })
        .catch((err: unknown) =>
          logger.error({ file, flag, error: (err as Error).message }, 'not reloaded: keeping what was read before'),
        )
        .finally(() => (reading = false));
    };
    watchFile(file, { interval: POLL_MS, persistent: false }, this.#onChange);
  }

  get value(): T {
    return this.#value;
  }

  close(): void {
    unwatchFile(this.#file, this.#onChange);
  }
}
