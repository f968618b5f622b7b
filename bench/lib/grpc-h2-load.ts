// A lean gRPC load client straight on node:http2, for the benchmark only: requests are
// protobuf-encoded once (src/core/proto.ts), framed with the 5-byte gRPC prefix and written
// on a raw HTTP/2 stream; responses are parsed only as far as the check needs. Without
// grpc-js's call machinery the generator spends far less CPU per call, which on a 2-core
// machine is CPU the server under test gets.
//
// It speaks the wire protocol as Bazel does (content-type application/grpc, te: trailers,
// one DATA message per request, status in the trailers or a trailers-only response), so a
// server that answers it answers grpc-java the same way. Over TLS (trusting a given CA) it
// sends credentials as `authorization` metadata, or as user info in `:authority` (what
// bazel-remote's gRPC Basic auth reads). Not a general client: no deadlines, no retries, no
// message compression.
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { framePrefix, GrpcFrameReader } from '../../src/core/grpc-frames.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { encoder, type Digest } from './grpc-load.ts';

const encodeFmb = encoder(`${REAPI}.FindMissingBlobsRequest`);
const encodeBatch = encoder(`${REAPI}.BatchUpdateBlobsRequest`);
const encodeWriteHead = encoder('google.bytestream.WriteRequest');
const encodeRead = encoder('google.bytestream.ReadRequest');
const BatchResponse = protoType(`${REAPI}.BatchUpdateBlobsResponse`);

const PATHS = {
  findMissing: `/${REAPI}.ContentAddressableStorage/FindMissingBlobs`,
  batchUpdate: `/${REAPI}.ContentAddressableStorage/BatchUpdateBlobs`,
  write: '/google.bytestream.ByteStream/Write',
  read: '/google.bytestream.ByteStream/Read',
};

/** A non-OK gRPC status (`code`), or a transport failure (no code), as one error. */
export class CallError extends Error {
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.code = code;
  }
}

/**
 * How to reach a secured server: `ca` makes the connections TLS and trusts that CA;
 * `authorization` is sent as metadata with every call; `userInfo` ("user:password") goes
 * into every call's `:authority` before the host (bazel-remote reads Basic credentials
 * there, and refuses `authorization` metadata).
 */
export interface H2Access {
  readonly ca?: Buffer;
  readonly authorization?: string;
  readonly userInfo?: string;
}

/** Reads a protobuf varint at `at`; returns [value, next offset]. Values below 2^53 only. */
function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = buf[at++];
    if (b === undefined) throw new CallError('truncated varint in a response');
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
    scale *= 128;
  }
}

/**
 * Bytes of field 10 (`data`) of a ReadResponse of `length` bytes, from its head alone: the
 * message must be that one field (as every server sends it), which the lengths confirm.
 */
function readResponseDataLength(head: Buffer, length: number): number {
  if (length === 0) return 0;
  if (head[0] !== 0x52) throw new CallError(`unexpected ReadResponse (first tag ${head[0]})`);
  const [len, start] = varint(head, 1);
  if (start + len !== length) throw new CallError('a ReadResponse with more than its data field');
  return len;
}

/** How many times length-delimited field `field` occurs at the top level of `msg` (others skipped). */
function countField(msg: Buffer, field: number): number {
  let n = 0;
  let at = 0;
  while (at < msg.length) {
    const [tag, next] = varint(msg, at);
    const wire = tag & 7;
    if (wire === 0) at = varint(msg, next)[1];
    else if (wire === 2) {
      const [len, start] = varint(msg, next);
      at = start + len;
      if (tag >>> 3 === field) n++;
    } else throw new CallError(`unexpected wire type ${wire} in a response`);
  }
  if (at !== msg.length) throw new CallError('a response runs past its end');
  return n;
}

/** committed_size (field 1) of a WriteResponse. */
function writeResponseCommitted(msg: Buffer): number {
  if (msg.length === 0) return 0;
  if (msg[0] !== 0x08) throw new CallError('unexpected WriteResponse');
  return varint(msg, 1)[0];
}

/** `channels` HTTP/2 connections, used round-robin by the calls. */
export class H2BenchClient {
  readonly #sessions: http2.ClientHttp2Session[];
  /** Headers every call sends beside its own: credentials, when given. */
  readonly #callHeaders: http2.OutgoingHttpHeaders;
  #next = 0;

  /** `window`: per-stream receive window this client announces (bytes); its connection window is 16× that. */
  constructor(target: string, channels = 1, window = 2 ** 20, access: H2Access = {}) {
    const origin = `${access.ca ? 'https' : 'http'}://${target}`;
    this.#callHeaders = {
      ...(access.authorization ? { authorization: access.authorization } : {}),
      ...(access.userInfo ? { ':authority': `${access.userInfo}@${target}` } : {}),
    };
    this.#sessions = Array.from({ length: channels }, () => {
      const url = new URL(origin);
      const host = url.hostname;
      const port = Number(url.port);
      // Small request messages must not wait for an ACK (Nagle).
      const connect = access.ca
        ? () => tls.connect({ host, port, ca: access.ca, ALPNProtocols: ['h2'] }).setNoDelay(true)
        : () => net.connect({ host, port, noDelay: true });
      const s = http2.connect(origin, {
        settings: { initialWindowSize: window, enablePush: false },
        maxSessionMemory: 1024,
        createConnection: connect,
      });
      s.on('connect', () => s.setLocalWindowSize(16 * window));
      s.on('error', () => undefined); // failures reach the calls as stream errors
      return s;
    });
  }

  /** Starts a call and sends `body` as its one request message. */
  #call(
    path: string,
    body: Buffer[],
    onMessage: (msg: Buffer, length: number) => void,
    headOnly = false,
  ): Promise<void> {
    const session = this.#sessions[this.#next++ % this.#sessions.length]!;
    return new Promise<void>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...this.#callHeaders,
      });
      // A Read's reply is counted from each message's head: its data is never gathered.
      const frames = new GrpcFrameReader(headOnly ? { headOnly: 16 } : {});
      let grpcStatus: string | undefined;
      let message = '';
      const settle = (headers: http2.IncomingHttpHeaders) => {
        const s = headers['grpc-status'];
        if (s !== undefined) {
          grpcStatus = String(s);
          message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
        }
      };
      stream.on('response', settle); // a trailers-only response carries the status here
      stream.on('trailers', settle);
      stream.on('data', (chunk: Buffer) => {
        try {
          const err = frames.push(chunk, onMessage);
          if (err) throw new CallError(`a response message was refused (${err.kind})`);
        } catch (err) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(err as Error);
        }
      });
      stream.on('error', (err) => reject(new CallError(`${path}: ${err.message}`)));
      stream.on('close', () => {
        if (grpcStatus === '0' && frames.atBoundary) resolve();
        else if (grpcStatus !== undefined)
          reject(new CallError(`${path}: status ${grpcStatus}: ${message}`, Number(grpcStatus)));
        else reject(new CallError(`${path}: the stream closed without a gRPC status`));
      });
      const length = body.reduce((n, b) => n + b.length, 0);
      stream.write(framePrefix(length));
      for (const b of body) stream.write(b);
      stream.end();
    });
  }

  static findMissingRequest(digests: readonly Digest[]): Buffer {
    return encodeFmb({ instanceName: '', blobDigests: digests, digestFunction: 1 });
  }

  /** Number of missing digests in the answer to a pre-encoded FindMissingBlobs request. */
  async findMissing(request: Buffer): Promise<number> {
    let missing = -1;
    await this.#call(PATHS.findMissing, [request], (msg) => {
      missing = countField(msg, 2);
    });
    return missing;
  }

  /** Uploads blobs in one BatchUpdateBlobs call; returns how many came back non-OK. */
  async batchUpdate(blobs: readonly { digest: Digest; data: Buffer }[]): Promise<number> {
    const req = encodeBatch({
      instanceName: '',
      requests: blobs.map((b) => ({ digest: b.digest, data: b.data })),
      digestFunction: 1,
    });
    let failed = blobs.length;
    await this.#call(PATHS.batchUpdate, [req], (msg) => {
      const res = BatchResponse.decode(msg) as unknown as { responses: { status?: { code?: number } }[] };
      failed =
        res.responses.filter((r) => (r.status?.code ?? 0) !== 0).length +
        Math.max(0, blobs.length - res.responses.length);
    });
    return failed;
  }

  /**
   * One ByteStream Write of a whole blob in a single message; resolves with committed_size.
   * The data field (10) goes last and is not copied: the head is encoded, then the blob
   * follows as its own buffer.
   */
  async write(digest: Digest, data: Buffer): Promise<number> {
    const head = encodeWriteHead({
      resourceName: `uploads/${randomUUID()}/blobs/${digest.hash}/${digest.sizeBytes}`,
      writeOffset: 0,
      finishWrite: true,
    });
    const field = Buffer.from([0x52, ...lengthVarint(data.length)]);
    let committed = -2;
    await this.#call(PATHS.write, [head, field, data], (msg) => {
      committed = writeResponseCommitted(msg);
    });
    return committed;
  }

  /** One ByteStream Read of a whole blob; resolves with the number of data bytes received. */
  async read(digest: Digest): Promise<number> {
    let bytes = 0;
    const request = encodeRead({
      resourceName: `blobs/${digest.hash}/${digest.sizeBytes}`,
      readOffset: 0,
      readLimit: 0,
    });
    await this.#call(
      PATHS.read,
      [request],
      (head, length) => {
        bytes += readResponseDataLength(head, length);
      },
      true,
    );
    return bytes;
  }

  close(): void {
    for (const s of this.#sessions) s.close();
  }
}

function lengthVarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
