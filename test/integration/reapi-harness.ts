// Test harness for the REAPI frontend: starts a server on a free loopback port over a
// MemoryStore (unless given a store) and builds real grpc-js clients from our own protos.
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  type ChannelCredentials,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { createCallChain } from '../../src/core/call-chain.ts';
import { hashBytes } from '../../src/core/digest.ts';
import { framePrefix } from '../../src/core/grpc-frames.ts';
import { serviceDefinition, SERVICE_NAMES } from '../../src/frontends/reapi/grpc-definitions.ts';
import { startReapiServer, type ReapiServer } from '../../src/frontends/reapi/reapi-server.ts';
import type { ReapiConfig } from '../../src/frontends/reapi/reapi-options.ts';
import type { Metrics } from '../../src/metrics/metrics.ts';
import { errorCounting, requestMetrics } from '../../src/server/interceptors/request-metrics.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { storeForMode } from '../helpers/store-across-threads.ts';
import type { Store } from '../../src/storage/store.ts';

export interface Harness {
  readonly server: ReapiServer;
  readonly store: Store;
  readonly caps: Client;
  readonly ac: Client;
  readonly cas: Client;
  readonly bs: Client;
  close(): Promise<void>;
}

/** grpc-js clients of the four cache services for `address` (any REAPI server, e.g. `hoard serve`). */
export interface ReapiClients {
  readonly caps: Client;
  readonly ac: Client;
  readonly cas: Client;
  readonly bs: Client;
  close(): void;
}

/** grpc-js clients of `address`; plain text unless given TLS credentials (`credentials.createSsl(ca)`). */
export function reapiClients(
  address: string,
  channel: ChannelCredentials = credentials.createInsecure(),
): ReapiClients {
  const opts = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };
  const mk = (name: string): Client => {
    // A grpc-js client uses only the client half (request encoder, response decoder).
    const Ctor = makeGenericClientConstructor(serviceDefinition(name) as unknown as ServiceDefinition, name);
    return new Ctor(address, channel, opts);
  };
  const caps = mk(SERVICE_NAMES.capabilities);
  const ac = mk(SERVICE_NAMES.actionCache);
  const cas = mk(SERVICE_NAMES.cas);
  const bs = mk(SERVICE_NAMES.byteStream);
  return {
    caps,
    ac,
    cas,
    bs,
    close() {
      for (const c of [caps, ac, cas, bs]) c.close();
    },
  };
}

export async function startHarness(
  config: ReapiConfig = {},
  store: Store = new MemoryStore(),
  metrics?: Metrics,
): Promise<Harness> {
  // The server's chain without the access log: what `hoard serve` counts, counted here.
  const chain = metrics ? createCallChain([requestMetrics(metrics), errorCounting(metrics)]) : undefined;
  const server = await startReapiServer({ store: storeForMode(store), address: '127.0.0.1:0', config, metrics, chain });
  const clients = reapiClients(server.address);
  return {
    server,
    store,
    caps: clients.caps,
    ac: clients.ac,
    cas: clients.cas,
    bs: clients.bs,
    async close() {
      clients.close();
      await server.shutdown(2000);
    },
  };
}

type UnaryFn = (req: unknown, metadata: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => unknown;

/** Calls a unary method (with `metadata`, e.g. authorization); resolves the response or rejects with the ServiceError. */
export function unary<T = Record<string, unknown>>(
  client: Client,
  method: string,
  req: unknown,
  metadata: Metadata = new Metadata(),
): Promise<T> {
  const fn = (client as unknown as Record<string, UnaryFn>)[method];
  if (!fn) throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, req, metadata, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

/** The status code a promise rejects with (or 0 when it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (err) {
    return (err as ServiceError).code;
  }
}

/**
 * `msg` as one gRPC message on the wire (5-byte prefix, then the bytes), for raw HTTP/2
 * calls; `declared` and `compressed` let a test lie in the prefix.
 */
export function framed(msg: Uint8Array, { declared = msg.length, compressed = false } = {}): Buffer {
  const prefix = framePrefix(declared >>> 0);
  if (compressed) prefix[0] = 1;
  return Buffer.concat([prefix, msg]);
}

export function sha256(data: Uint8Array): string {
  return hashBytes(data);
}

export function blob(size: number, seed = 0): Buffer {
  const b = Buffer.alloc(size);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The resource name a Read of `data` uses: `[instance/]blobs/<hash>/<size>`. */
export function readName(data: Uint8Array, instance = ''): string {
  return `${instance ? instance + '/' : ''}blobs/${sha256(data)}/${data.byteLength}`;
}

/** The resource name a Write of `data` uses: `[instance/]uploads/<uuid>/blobs/<hash>/<size>`. */
export function uploadName(data: Uint8Array, instance = '', uuid: string = randomUUID()): string {
  return `${instance ? instance + '/' : ''}uploads/${uuid}/${readName(data)}`;
}

export type { Metadata };

export interface WriteMsg {
  resourceName?: string;
  writeOffset: number;
  finishWrite?: boolean;
  data?: Uint8Array;
}

type StreamFn = (cb: (err: ServiceError | null, res: unknown) => void) => {
  write(m: unknown): boolean;
  end(): void;
  cancel(): void;
  on(ev: string, fn: (...a: unknown[]) => void): void;
};

/** A client-streaming Write: sends `msgs` (or a generator's), half-closes, resolves committed_size. */
export function writeMessages(bs: Client, msgs: Iterable<WriteMsg>): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = (bs as unknown as Record<string, StreamFn>)['Write']!.call(bs, (err, res) =>
      err ? reject(err) : resolve(Number((res as { committedSize: unknown }).committedSize)),
    );
    call.on('error', () => undefined);
    for (const m of msgs) call.write(m);
    call.end();
  });
}

/** The message sequence of one upload: `data` from `offset`, in `chunk`-byte messages. */
export function* chunks(
  name: string,
  data: Uint8Array,
  { chunk = 16 * 1024, offset = 0, finish = true } = {},
): Generator<WriteMsg> {
  let first = true;
  let at = offset;
  if (data.byteLength === offset) {
    yield { resourceName: name, writeOffset: offset, finishWrite: finish };
    return;
  }
  while (at < data.byteLength) {
    const end = Math.min(data.byteLength, at + chunk);
    yield {
      resourceName: first ? name : '',
      writeOffset: at,
      data: data.subarray(at, end),
      finishWrite: finish && end === data.byteLength,
    };
    first = false;
    at = end;
  }
}

/** Opens a Write call to drive by hand (for cuts and mid-stream behaviour). */
export function openWrite(bs: Client): { call: ReturnType<StreamFn>; result: Promise<number> } {
  let call!: ReturnType<StreamFn>;
  const result = new Promise<number>((resolve, reject) => {
    call = (bs as unknown as Record<string, StreamFn>)['Write']!.call(bs, (err, res) =>
      err ? reject(err) : resolve(Number((res as { committedSize: unknown }).committedSize)),
    );
  });
  call.on('error', () => undefined);
  result.catch(() => undefined);
  return { call, result };
}

type ServerStreamFn = (
  req: unknown,
  opts?: unknown,
) => { on(ev: string, fn: (...a: unknown[]) => void): void; cancel(): void };

/** A server-streaming call collected whole; rejects with the status error. */
export function collect<T>(client: Client, method: string, req: unknown, deadlineMs = 5000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const call = (client as unknown as Record<string, ServerStreamFn>)[method]!.call(client, req, {
      deadline: Date.now() + deadlineMs,
    });
    const out: T[] = [];
    call.on('data', (m) => out.push(m as T));
    call.on('error', (e) => reject(e));
    call.on('end', () => resolve(out));
  });
}

/** ByteStream.Read of a resource, concatenated. */
export async function readAll(bs: Client, resourceName: string, readOffset = 0, readLimit = 0): Promise<Buffer> {
  const msgs = await collect<{ data: Uint8Array }>(bs, 'Read', { resourceName, readOffset, readLimit });
  return Buffer.concat(msgs.map((m) => Buffer.from(m.data)));
}
