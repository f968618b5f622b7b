// Wire details of the REAPI transport kept out of the client logic: protobuf (de)serializers
// from hoard's own .proto files (core/proto.ts, the same schema the server decodes),
// ByteStream resource names (docs/PROTOCOLS.md §2.5) and the mapping of gRPC statuses to
// ClientErrors (docs/PROTOCOLS.md §2.4, §2.8.2).
import grpc, { type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { ErrorCode, type ErrorCode as Code } from '../core/errors.ts';
import type { Digest } from '../core/digest.ts';
import { protoType, REAPI } from '../core/proto.ts';
import { ClientError, tlsAlertIn, tlsRefusal } from './client-error.ts';

export interface Codec<T> {
  readonly serialize: (value: T) => Buffer;
  readonly deserialize: (bytes: Buffer) => T;
}

/** A codec for a protobuf message type, on plain objects with camelCase fields and Number longs. */
export function codec<T extends object>(typeName: string): Codec<T> {
  let type: protobuf.Type | undefined;
  const t = (): protobuf.Type => (type ??= protoType(typeName));
  return {
    serialize: (value) => asBuffer(t().encode(t().fromObject(value)).finish()),
    deserialize: (bytes) =>
      t().toObject(t().decode(bytes), { longs: Number, enums: Number, defaults: true, bytes: Buffer }) as T,
  };
}

/** Passes bytes through untouched: GetActionResult's answer is handed to the caller still encoded. */
export const rawCodec: Codec<Buffer> = { serialize: (b) => b, deserialize: (b) => b };

export interface DigestMsg {
  hash: string;
  sizeBytes: number;
}

export const toDigestMsg = (d: Digest): DigestMsg => ({ hash: d.hash, sizeBytes: d.sizeBytes });
export const fromDigestMsg = (m: DigestMsg): Digest => ({ hash: m.hash, sizeBytes: Number(m.sizeBytes) });

export const CODECS = {
  capabilitiesRequest: codec<{ instanceName: string }>(`${REAPI}.GetCapabilitiesRequest`),
  capabilities: codec<ServerCapabilitiesMsg>(`${REAPI}.ServerCapabilities`),
  findMissingRequest: codec<{ instanceName: string; blobDigests: DigestMsg[] }>(`${REAPI}.FindMissingBlobsRequest`),
  findMissingResponse: codec<{ missingBlobDigests: DigestMsg[] }>(`${REAPI}.FindMissingBlobsResponse`),
  getActionResultRequest: codec<{ instanceName: string; actionDigest: DigestMsg }>(`${REAPI}.GetActionResultRequest`),
  readRequest: codec<{ resourceName: string; readOffset: number; readLimit: number }>('google.bytestream.ReadRequest'),
  readResponse: codec<{ data: Buffer }>('google.bytestream.ReadResponse'),
  writeRequest: codec<{ resourceName: string; writeOffset: number; finishWrite: boolean; data: Uint8Array }>(
    'google.bytestream.WriteRequest',
  ),
  writeResponse: codec<{ committedSize: number }>('google.bytestream.WriteResponse'),
  queryWriteStatusRequest: codec<{ resourceName: string }>('google.bytestream.QueryWriteStatusRequest'),
  queryWriteStatusResponse: codec<{ committedSize: number; complete: boolean }>(
    'google.bytestream.QueryWriteStatusResponse',
  ),
} as const;

/** protobufjs' output as a Buffer without copying it (it already is one under Node). */
function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * UpdateActionResultRequest with an already-encoded ActionResult embedded as its bytes
 * (field 3), as the HTTP client sends it: decoding and re-encoding it would drop the
 * fields hoard's schema does not know.
 */
export function encodeUpdateActionResult(
  instanceName: string,
  actionDigest: Digest,
  encodedResult: Uint8Array,
): Buffer {
  const req = protoType(`${REAPI}.UpdateActionResultRequest`);
  const head = req.encode(req.create({ instanceName, actionDigest: toDigestMsg(actionDigest) })).finish();
  const field = protobuf.Writer.create()
    .uint32((3 << 3) | 2)
    .uint32(encodedResult.byteLength)
    .finish();
  return Buffer.concat([head, field, encodedResult]);
}

export interface ServerCapabilitiesMsg {
  cacheCapabilities?: {
    digestFunctions: number[];
    actionCacheUpdateCapabilities?: { updateEnabled: boolean };
    maxBatchTotalSizeBytes: number;
    supportedCompressors: number[];
  };
  lowApiVersion?: { major: number; minor: number };
  highApiVersion?: { major: number; minor: number };
}

export { DIGEST_FUNCTION_NAMES } from '../core/digest-functions.ts';
export const COMPRESSOR_NAMES = ['identity', 'zstd', 'deflate', 'brotli'];

const prefix = (instance: string): string => (instance ? `${instance}/` : '');

export function readResourceName(instance: string, d: Digest): string {
  return `${prefix(instance)}blobs/${d.hash}/${d.sizeBytes}`;
}

export function writeResourceName(instance: string, uuid: string, d: Digest): string {
  return `${prefix(instance)}uploads/${uuid}/blobs/${d.hash}/${d.sizeBytes}`;
}

function codeFor(grpcCode: number): Code {
  if (grpcCode === grpc.status.INVALID_ARGUMENT) return ErrorCode.InvalidArgument;
  if (grpcCode === grpc.status.UNAUTHENTICATED) return ErrorCode.Unauthenticated;
  if (grpcCode === grpc.status.PERMISSION_DENIED) return ErrorCode.PermissionDenied;
  if (grpcCode === grpc.status.OUT_OF_RANGE) return ErrorCode.OutOfRange;
  if (grpcCode === grpc.status.RESOURCE_EXHAUSTED) return ErrorCode.InsufficientStorage;
  if (grpcCode === grpc.status.CANCELLED) return ErrorCode.Aborted;
  if (grpcCode === grpc.status.UNAVAILABLE) return ErrorCode.Unavailable;
  return ErrorCode.Internal;
}

const CONNECT_FAILURE =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|No connection established|Name resolution failed/;
const DROPPED = /ECONNRESET|EPIPE|Connection dropped|GOAWAY|Stream refused|socket closed/i;

/** Maps a grpc-js ServiceError to a ClientError naming the server and the RPC. */
export function grpcError(err: unknown, server: string, rpc: string, signal?: AbortSignal): ClientError {
  if (err instanceof ClientError) return err;
  const e = err as Partial<ServiceError>;
  const code = typeof e.code === 'number' ? e.code : grpc.status.UNKNOWN;
  const details = (e.details ?? (err instanceof Error ? err.message : String(err))).replace(
    /\.?\s*Resolution note:\s*$/,
    '',
  );
  if (signal?.aborted)
    return new ClientError(`${rpc} on ${server} was aborted`, { server, kind: 'aborted', grpcCode: code, cause: err });
  const alert = code === grpc.status.UNAVAILABLE ? tlsAlertIn(details) : undefined;
  if (alert !== undefined) return tlsRefusal(server, alert, err); // mTLS: no certificate, or one it does not trust
  if (code === grpc.status.UNAVAILABLE && CONNECT_FAILURE.test(details)) {
    return new ClientError(`cannot connect to ${server}: ${details}`, {
      server,
      kind: 'connect',
      grpcCode: code,
      cause: err,
    });
  }
  const kind = code === grpc.status.UNAVAILABLE && DROPPED.test(details) ? 'dropped' : 'status';
  // Refusals say so first, then the server's words; neither code is retried (retry-policy.ts).
  const refusal =
    code === grpc.status.UNAUTHENTICATED
      ? 'authentication failed: '
      : code === grpc.status.PERMISSION_DENIED
        ? 'permission denied: '
        : '';
  return new ClientError(`${refusal}${rpc} on ${server}: gRPC status ${code}${details ? `: ${details}` : ''}`, {
    server,
    kind,
    grpcCode: code,
    code: codeFor(code),
    cause: err,
  });
}
