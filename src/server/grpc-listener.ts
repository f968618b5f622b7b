// The gRPC listener: an adapter over the REAPI frontend's server (src/frontends/reapi),
// giving start-server.ts the same drain/abort shape as the HTTP listener.
import path from 'node:path';
import type { Logger } from 'pino';
import type { CallChain } from '../core/call.ts';
import type { Config } from '../config/schema.ts';
import { formatAddress, type ListenAddress } from '../config/units.ts';
import { startReapiServer } from '../frontends/reapi/reapi-server.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../storage/store.ts';
import { readKeyPair, serverTlsOptions, tlsFilesOf, watchKeyPair } from './tls.ts';

export interface GrpcListenerOptions {
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly address: ListenAddress;
  readonly chain: CallChain;
  /** Share the port with the other request threads' listeners (SO_REUSEPORT). */
  readonly reusePort?: boolean;
  /** This request thread's index when several share the spool of interrupted uploads. */
  readonly spoolSharedBy?: number;
}

export interface GrpcListener {
  /** host:port of the bound socket. */
  readonly address: string;
  /** Whether it serves TLS (grpcs://). */
  readonly tls: boolean;
  /** Stops accepting, lets in-flight calls finish until `deadline` (epoch ms), then cancels the rest. */
  shutdown(deadline: number): Promise<void>;
  abort(): void;
}

export async function startGrpcListener(options: GrpcListenerOptions): Promise<GrpcListener> {
  const { config } = options;
  const address = formatAddress(options.address);
  const tlsFiles = tlsFilesOf(config);
  const tls = tlsFiles === undefined ? undefined : serverTlsOptions(tlsFiles, await readKeyPair(tlsFiles));
  let reapi;
  try {
    reapi = await startReapiServer({
      tls,
      store: options.store,
      address,
      logger: options.logger,
      metrics: options.metrics,
      chain: options.chain,
      reusePort: options.reusePort,
      config: {
        acCompleteness: config.acCompleteness,
        maxBlobSize: config.maxBlobSize,
        // The same no-progress bound as HTTP bodies: a stalled upload or unread download ends.
        bodyIdleTimeoutMs: config.bodyIdleTimeout,
        // Interrupted uploads kept for resumption live beside the store, on the same disk
        // (the REAPI frontend bounds them and clears earlier processes' spools at start).
        partialUploadDir: path.join(config.dir, 'partial'),
        partialUploadSharedBy: options.spoolSharedBy,
      },
    });
  } catch (err) {
    throw new Error(`cannot listen on gRPC address ${address}: ${(err as Error).message}`, { cause: err });
  }
  const server = reapi;
  const unwatch =
    tlsFiles === undefined
      ? () => undefined
      : watchKeyPair(tlsFiles, (pair) => server.setKeyPair(pair), options.logger, 'gRPC');
  return {
    address: reapi.address,
    tls: tls !== undefined,
    shutdown: (deadline) => {
      unwatch();
      return server.shutdown(Math.max(0, deadline - Date.now()));
    },
    abort: () => {
      unwatch();
      server.abort();
    },
  };
}
