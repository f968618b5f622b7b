// Process lifecycle for `hoard serve` (rule 3). The first SIGTERM or SIGINT drains: the
// listeners stop accepting, in-flight uploads and downloads get until the drain deadline,
// the store is closed (flushed), and the process exits 0. A second signal exits at once;
// that is still safe, because the store never publishes a partial entry and recovers a
// torn journal tail on the next open (rules 1 and 2).
import type { RunningServer } from './start-server.ts';

const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export interface SignalOptions {
  /** Called with the process exit code once shutdown is done (default process.exit). */
  readonly exit?: (code: number) => void;
}

export function exitOnSignals(server: RunningServer, options: SignalOptions = {}): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      server.logger.warn({ signal }, 'second signal: exiting now without draining');
      server.abort();
      server.flushLogs();
      exit(EXIT_CODES[signal] ?? 1);
      return;
    }
    server.logger.info({ signal, drainMs: server.config.drainTimeout }, 'signal received: draining');
    server.shutdown().then(
      () => {
        server.flushLogs();
        exit(0);
      },
      (err: unknown) => {
        server.logger.error({ err }, 'shutdown failed');
        server.flushLogs();
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
