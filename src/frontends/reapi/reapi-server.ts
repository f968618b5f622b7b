// The REAPI gRPC listener: hoard's own gRPC transport (grpc-transport.ts) carrying
// Capabilities, ActionCache, ContentAddressableStorage and ByteStream over one Store. This
// file owns transport concerns only (limits, keepalive, windows, bind, drain); protocol
// logic lives in the services.
import type { Logger } from 'pino';
import type { CallChain } from '../../core/call.ts';
import { EMPTY_CHAIN } from '../../core/call-chain.ts';
import { formatAddress, parseAddress } from '../../config/units.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { Store } from '../../storage/store.ts';
import { actionCacheService } from './action-cache-service.ts';
import { byteStreamService } from './bytestream-service.ts';
import { capabilitiesService } from './capabilities-service.ts';
import { casService } from './cas-service.ts';
import { serviceDefinition, SERVICE_NAMES } from './grpc-definitions.ts';
import { refusedCall } from './handlers.ts';
import {
  listenGrpc,
  type CallHandler,
  type MethodDefinition,
  type ServiceImplementation,
  type TlsServerOptions,
} from './grpc-transport.ts';
import { PartialUploads } from './partial-uploads.ts';
import { PublishedBlobs } from './published-blobs.ts';
import { resolveReapiOptions, type ReapiConfig } from './reapi-options.ts';
import type { ReapiContext } from './request-context.ts';

export interface ReapiServerOptions {
  readonly store: Store;
  /** host:port to listen on; port 0 picks a free port (see the returned address). */
  readonly address: string;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly config?: ReapiConfig;
  /** What every call goes through (admission, access log, metrics); by default nothing. */
  readonly chain?: CallChain;
  /** Share the port with the other request threads' listeners (SO_REUSEPORT). */
  readonly reusePort?: boolean;
  /** Serve TLS (grpcs://) with this PEM key and certificate chain. */
  readonly tls?: TlsServerOptions;
}

export interface ReapiServer {
  /** host:port actually bound. */
  readonly address: string;
  /**
   * Stops accepting calls and lets in-flight calls (uploads included) finish; calls still
   * running after `deadlineMs` milliseconds are cancelled (rule 3: drain before close).
   * Resolves when the listener is closed. The store is not closed: its owner closes it.
   */
  shutdown(deadlineMs: number): Promise<void>;
  /** Cuts every call now, also while a shutdown drains (a second signal, an embedding abort). */
  abort(): void;
  /** A new TLS key and certificate for the connections that come next. */
  setKeyPair(pair: { readonly key: Buffer; readonly cert: Buffer; readonly ca?: Buffer }): void;
}

// HTTP/2 flow control. The connection window is shared by every stream on it: 32
// concurrent 128 KiB uploads on one connection need far more than the protocol's 64 KiB.
// Per stream, 256 KiB lets a typical blob arrive in one flight; it is also how far a
// client can send ahead of an upload's spool, i.e. what a cut upload may have to resend.
const STREAM_WINDOW = 256 * 1024;
const CONNECTION_WINDOW = 16 * 1024 * 1024;

export async function startReapiServer(options: ReapiServerOptions): Promise<ReapiServer> {
  const resolved = resolveReapiOptions(options.config);
  const partials = new PartialUploads({
    dir: resolved.partialUploadDir,
    maxBytes: resolved.partialUploadMaxBytes,
    maxAgeMs: resolved.partialUploadMaxAgeMs,
    sharedBy: resolved.partialUploadSharedBy,
    logger: options.logger,
  });
  const ctx: ReapiContext = {
    store: options.store,
    options: resolved,
    logger: options.logger,
    metrics: options.metrics,
    published: new PublishedBlobs(),
    partials,
    chain: options.chain ?? EMPTY_CHAIN,
  };
  const services: [string, ServiceImplementation][] = [
    [SERVICE_NAMES.capabilities, capabilitiesService(ctx)],
    [SERVICE_NAMES.actionCache, actionCacheService(ctx)],
    [SERVICE_NAMES.cas, casService(ctx)],
    [SERVICE_NAMES.byteStream, byteStreamService(ctx)],
  ];
  const methods = new Map<string, { definition: MethodDefinition; handler: CallHandler }>();
  for (const [name, impl] of services) {
    for (const [method, definition] of Object.entries(serviceDefinition(name))) {
      const handler = impl[method];
      if (handler) methods.set(definition.path, { definition, handler });
    }
  }

  const { host, port } = parseAddress(options.address);
  let transport;
  try {
    transport = await listenGrpc(
      host,
      port,
      methods,
      {
        maxReceiveMessageSize: resolved.maxReceiveMessageSize,
        keepaliveMs: resolved.keepaliveMs,
        connectionIdleMs: resolved.connectionIdleMs,
        streamWindow: STREAM_WINDOW,
        connectionWindow: CONNECTION_WINDOW,
        requestIdleMs: resolved.bodyIdleTimeoutMs,
        onRefused: (refused) => refusedCall(ctx, refused),
        reusePort: options.reusePort,
        tls: options.tls,
      },
      (err) => options.logger?.error({ err }, 'REAPI transport error'),
    );
  } catch (err) {
    await partials.close();
    throw err;
  }
  const address = formatAddress({ host, port: transport.port });
  options.logger?.info({ address }, 'REAPI gRPC listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    shutdown(deadlineMs: number): Promise<void> {
      closing ??= transport.shutdown(deadlineMs).then(() => partials.close());
      return closing;
    },
    abort(): void {
      transport.destroy();
    },
    setKeyPair: (pair) => transport.setKeyPair(pair),
  };
}
