// What an HTTP frontend gets from the server layer: the store, metrics, a logger, and the
// server's connection policy. Frontends never see the listener itself (thin adapters over
// a neutral core: the listener routes, the frontends speak the protocol).
import type { Metrics } from '../../metrics/metrics.ts';
import type { Store } from '../../storage/store.ts';

/** The part of a pino logger the frontends use. */
export interface FrontendLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface HttpContext {
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: FrontendLogger;
  /**
   * True when every response from now on must close its connection: the server is
   * draining, or `--debug-close-connections` is on. Read at header-writing time.
   */
  closeConnections(): boolean;
  /**
   * This request thread's number, stable across its restarts (0 on the main thread): for
   * state a frontend keeps in the store per thread (WebDAV's listing parts).
   */
  readonly threadIndex: number;
  /** Largest single entry accepted: --max-blob-size (413); 0 = no per-entry limit (the store bound still applies: 507). */
  readonly maxEntryBytes: number;
}
