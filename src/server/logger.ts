// Structured logs with pino. JSON lines go to stdout through an asynchronous destination
// so the request path never waits on a log write; `flush()` writes out what is buffered
// and is called before exit. `pretty` is a small human format for terminals.
import { pino, type Logger } from 'pino';
import type { Config } from '../config/schema.ts';

export interface ServerLogger {
  readonly logger: Logger;
  /** Writes out buffered lines synchronously (at exit, also on a second signal). */
  flush(): void;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): ServerLogger {
  if (config.logFormat === 'pretty') {
    const logger = pino(
      { level: config.logLevel, base: undefined },
      { write: (line: string) => process.stdout.write(prettyLine(line)) },
    );
    return { logger, flush: () => undefined };
  }
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } }, destination);
  return {
    logger,
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // Not ready yet or already closed: nothing buffered that could still be written.
      }
    },
  };
}

function prettyLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, msg, ...rest } = rec;
  const when = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23);
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${when} ${LEVEL_NAMES[level as number] ?? String(level)} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}
