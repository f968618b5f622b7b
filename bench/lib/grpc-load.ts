// A lean REAPI/ByteStream load client on @grpc/grpc-js. Messages are encoded with
// protobufjs from hoard's own protos (src/core/proto.ts) and handed to grpc-js as ready
// Buffers; responses are decoded only as far as the check needs. FindMissingBlobs requests
// are encoded once before the timed phase and reused, so the generator spends its CPU on
// the wire, not on building objects.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { protoType, REAPI } from '../../src/core/proto.ts';

const identity = (b: Buffer) => b;
/** A protobufjs encoder of message type `name` from hoard's protos, returning a Buffer. */
export const encoder = (name: string) => {
  const t = protoType(name);
  return (msg: object): Buffer => {
    const u8 = t.encode(t.fromObject(msg)).finish();
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  };
};

const encodeFmb = encoder(`${REAPI}.FindMissingBlobsRequest`);
const encodeBatch = encoder(`${REAPI}.BatchUpdateBlobsRequest`);
const encodeWrite = encoder('google.bytestream.WriteRequest');
const encodeRead = encoder('google.bytestream.ReadRequest');
const FmbResponse = protoType(`${REAPI}.FindMissingBlobsResponse`);
const BatchResponse = protoType(`${REAPI}.BatchUpdateBlobsResponse`);
const WriteResponse = protoType('google.bytestream.WriteResponse');
const ReadResponse = protoType('google.bytestream.ReadResponse');

const METHODS = {
  findMissingBlobs: {
    path: `/${REAPI}.ContentAddressableStorage/FindMissingBlobs`,
    requestStream: false,
    responseStream: false,
  },
  batchUpdateBlobs: {
    path: `/${REAPI}.ContentAddressableStorage/BatchUpdateBlobs`,
    requestStream: false,
    responseStream: false,
  },
  write: { path: '/google.bytestream.ByteStream/Write', requestStream: true, responseStream: false },
  read: { path: '/google.bytestream.ByteStream/Read', requestStream: false, responseStream: true },
} as const;

type Definition = grpc.ServiceDefinition<grpc.UntypedServiceImplementation>;
const definition: Definition = Object.fromEntries(
  Object.entries(METHODS).map(([name, m]) => [
    name,
    {
      ...m,
      originalName: name,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  ]),
) as unknown as Definition;
const ClientCtor = grpc.makeGenericClientConstructor(definition, 'HoardBench');

/** protobufjs decodes int64 as a number, or as a Long when long.js is installed. */
type Int64 = number | { toNumber(): number };
const toNumber = (v: Int64): number => (typeof v === 'number' ? v : v.toNumber());

export interface Digest {
  readonly hash: string;
  readonly sizeBytes: number;
}

/** `channels` HTTP/2 connections, used round-robin by the calls. */
export class BenchClient {
  readonly #clients: grpc.Client[];
  #next = 0;

  /**
   * `window`: the HTTP/2 receive window this client announces (bytes). Bazel's grpc-java
   * uses 1 MiB; grpc-js would otherwise stay at 64 KiB, which throttles Reads by round trips.
   */
  constructor(target: string, channels = 1, window = 2 ** 20) {
    this.#clients = Array.from(
      { length: channels },
      (_, i) =>
        new ClientCtor(target, grpc.credentials.createInsecure(), {
          // Distinct options keep grpc-js from sharing one subchannel between the clients.
          'grpc.bench_channel': i,
          'grpc.max_receive_message_length': 64 * 2 ** 20,
          'grpc.max_send_message_length': 64 * 2 ** 20,
          'grpc-node.flow_control_window': window,
        }),
    );
  }

  #client(): grpc.Client {
    const c = this.#clients[this.#next++ % this.#clients.length];
    if (!c) throw new Error('no channel');
    return c;
  }

  #unary(method: string, request: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#client().makeUnaryRequest(method, identity, identity, request, (err, res) =>
        err || !res ? reject(err ?? new Error('empty response')) : resolve(res),
      );
    });
  }

  static findMissingRequest(digests: readonly Digest[]): Buffer {
    return encodeFmb({ instanceName: '', blobDigests: digests, digestFunction: 1 });
  }

  /** Number of missing digests in the answer to a pre-encoded FindMissingBlobs request. */
  async findMissing(request: Buffer): Promise<number> {
    const res = FmbResponse.decode(await this.#unary(METHODS.findMissingBlobs.path, request)) as unknown as {
      missingBlobDigests: unknown[];
    };
    return res.missingBlobDigests.length;
  }

  /** Uploads blobs in one BatchUpdateBlobs call; returns how many came back non-OK. */
  async batchUpdate(blobs: readonly { digest: Digest; data: Buffer }[]): Promise<number> {
    const req = encodeBatch({
      instanceName: '',
      requests: blobs.map((b) => ({ digest: b.digest, data: b.data })),
      digestFunction: 1,
    });
    const res = BatchResponse.decode(await this.#unary(METHODS.batchUpdateBlobs.path, req)) as unknown as {
      responses: { status?: { code?: number } }[];
    };
    return (
      res.responses.filter((r) => (r.status?.code ?? 0) !== 0).length + Math.max(0, blobs.length - res.responses.length)
    );
  }

  /** One ByteStream Write of a whole blob in a single message; resolves with committed_size. */
  write(digest: Digest, data: Buffer): Promise<number> {
    const request = encodeWrite({
      resourceName: `uploads/${randomUUID()}/blobs/${digest.hash}/${digest.sizeBytes}`,
      writeOffset: 0,
      finishWrite: true,
      data,
    });
    return new Promise((resolve, reject) => {
      const call = this.#client().makeClientStreamRequest(METHODS.write.path, identity, identity, (err, res) => {
        if (err || !res) return reject(err ?? new Error('empty response'));
        resolve(toNumber((WriteResponse.decode(res) as unknown as { committedSize: Int64 }).committedSize));
      });
      call.write(request);
      call.end();
    });
  }

  /** One ByteStream Read of a whole blob; resolves with the number of data bytes received. */
  read(digest: Digest): Promise<number> {
    const request = encodeRead({
      resourceName: `blobs/${digest.hash}/${digest.sizeBytes}`,
      readOffset: 0,
      readLimit: 0,
    });
    return new Promise((resolve, reject) => {
      let bytes = 0;
      const call = this.#client().makeServerStreamRequest(METHODS.read.path, identity, identity, request);
      call.on(
        'data',
        (msg: Buffer) => (bytes += (ReadResponse.decode(msg) as unknown as { data: Uint8Array }).data.length),
      );
      call.once('error', reject);
      call.once('end', () => resolve(bytes));
    });
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}
