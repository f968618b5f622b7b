// Service definitions built straight from hoard's protobufjs Root (src/core/proto.ts), the
// same Root the AC completeness check decodes with: the server transport (grpc-transport.ts)
// uses their request decoders and response encoders, and tests build grpc-js clients from
// the same definitions. We do not go through @grpc/proto-loader: its toObject() copy per
// message costs on the ByteStream hot path, whereas protobufjs' decode keeps `bytes` fields
// as zero-copy views of the received Buffer.
// The price is that decoded messages are protobufjs instances: unset scalars read as
// defaults, int64 fields are Long objects (use `int64()`), and empty bytes may be `[]`.
import type { MethodDefinition as TransportMethod } from './grpc-transport.ts';
import type protobuf from 'protobufjs';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { protoRoot, REAPI } from '../../core/proto.ts';
import {
  decodeFindMissingRequest,
  encodeFindMissingResponse,
  encodeGetTreeResponse,
  encodeReadResponseParts,
} from './fast-codecs.ts';
import { decodeWriteRequest } from './write-request-codec.ts';

/** A method as the server transport needs it, plus the client half tests use with grpc-js. */
export interface MethodDefinition extends TransportMethod {
  readonly requestSerialize: (v: unknown) => Buffer;
  readonly responseDeserialize: (b: Buffer) => unknown;
  readonly originalName: string;
}
export type ServiceDefinition = Readonly<Record<string, MethodDefinition>>;

export const SERVICE_NAMES = {
  capabilities: `${REAPI}.Capabilities`,
  actionCache: `${REAPI}.ActionCache`,
  cas: `${REAPI}.ContentAddressableStorage`,
  byteStream: 'google.bytestream.ByteStream',
} as const;

export { bytesOf, int64, type Int64 } from '../../core/proto-values.ts';

/**
 * What a request deserializer returns for bytes that are not the message: grpc-js would
 * answer a throwing deserializer with INTERNAL (which Bazel retries); handlers turn this
 * into INVALID_ARGUMENT via `wellFormed()` (rule 7).
 */
class MalformedMessage {
  readonly description: string;
  constructor(typeName: string, cause: unknown) {
    this.description = `malformed ${typeName} message: ${(cause as Error)?.message ?? String(cause)}`;
  }
}

export function wellFormed<T>(msg: T | MalformedMessage): T {
  if (msg instanceof MalformedMessage) throw new HoardError(ErrorCode.InvalidArgument, msg.description);
  return msg;
}

function tolerant<In>(typeName: string, decode: (b: In) => unknown): (b: In) => unknown {
  return (b) => {
    try {
      return decode(b);
    } catch (err) {
      return new MalformedMessage(typeName, err);
    }
  };
}

const cache = new Map<string, ServiceDefinition>();

/** Server-side codecs that replace protobufjs on hot methods (see fast-codecs.ts). */
const FAST: Readonly<
  Record<
    string,
    Partial<Pick<MethodDefinition, 'requestDeserialize' | 'requestDeserializeParts' | 'responseSerialize'>>
  >
> = {
  [`/${REAPI}.ContentAddressableStorage/FindMissingBlobs`]: {
    requestDeserialize: decodeFindMissingRequest,
    responseSerialize: (v: unknown) => encodeFindMissingResponse(v as Parameters<typeof encodeFindMissingResponse>[0]),
  },
  // Not for speed: stored Directory bytes must reach the client unchanged.
  [`/${REAPI}.ContentAddressableStorage/GetTree`]: {
    responseSerialize: (v: unknown) => encodeGetTreeResponse(v as Parameters<typeof encodeGetTreeResponse>[0]),
  },
  // Upload messages are read from the chunks they arrived in, never joined (see its codec).
  '/google.bytestream.ByteStream/Write': {
    requestDeserialize: (b: Buffer) => decodeWriteRequest([b]),
    requestDeserializeParts: decodeWriteRequest,
  },
  '/google.bytestream.ByteStream/Read': {
    responseSerialize: (v: unknown) => encodeReadResponseParts(v as { data: Uint8Array }),
  },
};

/** The grpc-js definition of one service; method keys are the proto method names. */
export function serviceDefinition(fullName: string): ServiceDefinition {
  const hit = cache.get(fullName);
  if (hit) return hit;
  const service = protoRoot().lookupService(fullName);
  const def: Record<string, MethodDefinition> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType as protobuf.Type;
    const res = method.resolvedResponseType as protobuf.Type;
    const path = `/${fullName}/${method.name}`;
    const fast = FAST[path]?.requestDeserialize;
    const fastParts = FAST[path]?.requestDeserializeParts;
    def[method.name] = {
      path,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: (v: unknown) => encode(req, v),
      requestDeserialize: tolerant(req.name, (b: Buffer) => req.decode(b)),
      responseSerialize: (v: unknown) => encode(res, v),
      responseDeserialize: (b: Buffer) => res.decode(b),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
      ...FAST[path],
      ...(fast ? { requestDeserialize: tolerant(req.name, fast) } : {}),
      ...(fastParts ? { requestDeserializeParts: tolerant(req.name, fastParts) } : {}),
    };
  }
  cache.set(fullName, def);
  return def;
}

function encode(type: protobuf.Type, value: unknown): Buffer {
  const bytes = type.encode(value as protobuf.Message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
