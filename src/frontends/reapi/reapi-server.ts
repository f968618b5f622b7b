// The REAPI gRPC listener: a grpc-js Server carrying Capabilities, ActionCache,
// ContentAddressableStorage and ByteStream over one Store. This file owns transport
// concerns only (limits, keepalive, bind, drain); protocol logic lives in the services.
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics/metrics.ts';
import type { Store } from '../../storage/store.ts';
import { actionCacheService } from './action-cache-service.ts';
import { byteStreamService } from './bytestream-service.ts';
import { capabilitiesService } from './capabilities-service.ts';
import { casService } from './cas-service.ts';
import { serviceDefinition, SERVICE_NAMES } from './grpc-definitions.ts';
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
}

export async function startReapiServer(options: ReapiServerOptions): Promise<ReapiServer> {
  const resolved = resolveReapiOptions(options.config);
  const partials = new PartialUploads({
    dir: resolved.partialUploadDir,
    maxBytes: resolved.partialUploadMaxBytes,
    maxAgeMs: resolved.partialUploadMaxAgeMs,
    logger: options.logger,
  });
  const ctx: ReapiContext = {
    store: options.store,
    options: resolved,
    logger: options.logger,
    metrics: options.metrics,
    published: new PublishedBlobs(),
    partials,
  };
  const server = new Server({
    'grpc.max_receive_message_length': ctx.options.maxReceiveMessageSize,
    'grpc.max_send_message_length': -1,
    // Ping idle clients so dead peers are noticed, but never cut a live call: keepalive
    // pings ride alongside long uploads, and idle connections get a clean GOAWAY (which
    // clients answer by reconnecting) rather than a silent drop.
    'grpc.keepalive_time_ms': resolved.keepaliveMs,
    'grpc.keepalive_timeout_ms': Math.ceil(resolved.keepaliveMs / 3),
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_connection_idle_ms': resolved.connectionIdleMs,
  });
  const services: [string, UntypedServiceImplementation][] = [
    [SERVICE_NAMES.capabilities, capabilitiesService(ctx)],
    [SERVICE_NAMES.actionCache, actionCacheService(ctx)],
    [SERVICE_NAMES.cas, casService(ctx)],
    [SERVICE_NAMES.byteStream, byteStreamService(ctx)],
  ];
  for (const [name, impl] of services) server.addService(serviceDefinition(name), impl);

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(options.address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
  } catch (err) {
    server.forceShutdown();
    await partials.close();
    throw err;
  }
  widenConnectionWindows(server);
  const address = withPort(options.address, port);
  options.logger?.info({ address }, 'REAPI gRPC listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    shutdown(deadlineMs: number): Promise<void> {
      closing ??= drain(server, deadlineMs).then(() => partials.close());
      return closing;
    },
  };
}

function drain(server: Server, deadlineMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), Math.max(0, deadlineMs));
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function withPort(address: string, port: number): string {
  const i = address.lastIndexOf(':');
  return `${i < 0 ? address : address.slice(0, i)}:${port}`;
}

// HTTP/2 flow control. grpc-js gives a server no option for its receive windows, so the
// connection's stays at the protocol default of 64 KiB, shared by every stream on it: 32
// concurrent 128 KiB uploads on one connection then crawl, one window update at a time.
// This widens the connection window through grpc-js internals (checked to exist, so a
// grpc-js that renames them only loses the tuning, not correctness). Each stream keeps the
// default 64 KiB: a wider one measured no faster, and it let a client push a megabyte
// ahead of what the server had consumed, so a cut upload resumed from further back.
// Memory stays bounded: a window is credit the client may send ahead.
const CONNECTION_WINDOW = 16 * 1024 * 1024;

interface GrpcServerInternals {
  http2Servers?: Map<{ on(event: 'session', listener: (session: { setLocalWindowSize?(n: number): void }) => void): void }, unknown>;
}

function widenConnectionWindows(server: Server): void {
  const internals = server as unknown as GrpcServerInternals;
  for (const http2Server of internals.http2Servers?.keys() ?? []) {
    http2Server.on('session', (session) => session.setLocalWindowSize?.(CONNECTION_WINDOW));
  }
}
