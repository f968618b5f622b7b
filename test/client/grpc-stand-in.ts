// A STAND-IN REAPI cache server for client tests (in memory, @grpc/grpc-js, 127.0.0.1:0):
// Capabilities, FindMissingBlobs, GetActionResult/UpdateActionResult, ByteStream
// Read/Write/QueryWriteStatus. Unlike bazel-remote it KEEPS partial uploads, so
// QueryWriteStatus reports a committed offset and the client's resume path can be tested.
// Faults break rule 3 on the server's side, to show the client trusts only a WriteResponse
// for the whole blob:
//  - shortCommit: the final message is answered OK with committed_size one byte short;
//  - endEarly: the first message is answered OK (committed_size = the bytes it carried),
//    as if the blob already existed, though it does not.
// hangQueryWriteStatus is called when a QueryWriteStatus arrives, which is then never answered.
import grpc from '@grpc/grpc-js';
import { CODECS, rawCodec, type Codec } from '../../src/client/grpc-codec.ts';
import { hashBytes } from '../../src/core/digest.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';

export interface GrpcStandIn {
  readonly target: string;
  readonly url: string;
  readonly cas: Map<string, Buffer>;
  readonly ac: Map<string, Buffer>;
  /** Partial uploads by resource name. */
  readonly partials: Map<string, Buffer>;
  /** Write offsets of the first message of each Write call, in order. */
  readonly writeStarts: number[];
  close(): Promise<void>;
}

export interface GrpcStandInFaults {
  shortCommit?: boolean;
  endEarly?: boolean;
  hangQueryWriteStatus?: () => void;
}

type Handler = grpc.UntypedHandleCall;

function method<Req, Res>(
  path: string,
  req: Codec<Req>,
  res: Codec<Res>,
  requestStream: boolean,
  responseStream: boolean,
): grpc.MethodDefinition<Req, Res> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
  };
}

const status = (code: number, details: string): Partial<grpc.StatusObject> => ({ code, details });

export async function startGrpcStandIn(faults: GrpcStandInFaults = {}): Promise<GrpcStandIn> {
  const cas = new Map<string, Buffer>();
  const ac = new Map<string, Buffer>();
  const partials = new Map<string, Buffer>();
  const writeStarts: number[] = [];
  const server = new grpc.Server();
  const actionResult = protoType(`${REAPI}.ActionResult`);
  const updateRequest = protoType(`${REAPI}.UpdateActionResultRequest`);

  const caps = method(
    '/build.bazel.remote.execution.v2.Capabilities/GetCapabilities',
    CODECS.capabilitiesRequest,
    CODECS.capabilities,
    false,
    false,
  );
  const findMissing = method(
    '/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs',
    CODECS.findMissingRequest,
    CODECS.findMissingResponse,
    false,
    false,
  );
  const getAr = method(
    '/build.bazel.remote.execution.v2.ActionCache/GetActionResult',
    CODECS.getActionResultRequest,
    rawCodec,
    false,
    false,
  );
  const updateAr = method(
    '/build.bazel.remote.execution.v2.ActionCache/UpdateActionResult',
    rawCodec,
    rawCodec,
    false,
    false,
  );
  const read = method('/google.bytestream.ByteStream/Read', CODECS.readRequest, CODECS.readResponse, false, true);
  const write = method('/google.bytestream.ByteStream/Write', CODECS.writeRequest, CODECS.writeResponse, true, false);
  const query = method(
    '/google.bytestream.ByteStream/QueryWriteStatus',
    CODECS.queryWriteStatusRequest,
    CODECS.queryWriteStatusResponse,
    false,
    false,
  );

  const handlers: Record<string, Handler> = {
    GetCapabilities: ((_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, {
        cacheCapabilities: {
          digestFunctions: [1],
          actionCacheUpdateCapabilities: { updateEnabled: true },
          maxBatchTotalSizeBytes: 0,
          supportedCompressors: [],
        },
        lowApiVersion: { major: 2 },
        highApiVersion: { major: 2, minor: 3 },
      })) as Handler,
    FindMissingBlobs: ((
      call: grpc.ServerUnaryCall<{ blobDigests: { hash: string; sizeBytes: number }[] }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) =>
      cb(null, {
        missingBlobDigests: call.request.blobDigests.filter((d) => d.sizeBytes > 0 && !cas.has(d.hash)),
      })) as Handler,
    GetActionResult: ((
      call: grpc.ServerUnaryCall<{ actionDigest: { hash: string } }, Buffer>,
      cb: grpc.sendUnaryData<Buffer>,
    ) => {
      const hit = ac.get(call.request.actionDigest.hash);
      if (hit) cb(null, hit);
      else cb(status(5, 'not found'));
    }) as Handler,
    UpdateActionResult: ((call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const req = updateRequest.decode(call.request) as unknown as {
        actionDigest: { hash: string };
        actionResult: object;
      };
      const bytes = Buffer.from(actionResult.encode(req.actionResult).finish());
      ac.set(req.actionDigest.hash, bytes);
      cb(null, bytes);
    }) as Handler,
    Read: ((call: grpc.ServerWritableStream<{ resourceName: string; readOffset: number }, unknown>) => {
      const m = /blobs\/([0-9a-f]{64})\/(\d+)$/.exec(call.request.resourceName);
      const blob = m && (Number(m[2]) === 0 ? Buffer.alloc(0) : cas.get(m[1] as string));
      if (!blob) return void call.emit('error', status(5, 'not found'));
      for (let i = call.request.readOffset; i < blob.length; i += 16 * 1024)
        call.write({ data: blob.subarray(i, i + 16 * 1024) });
      call.end();
    }) as Handler,
    Write: ((
      call: grpc.ServerReadableStream<
        { resourceName: string; writeOffset: number; finishWrite: boolean; data: Buffer },
        unknown
      >,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      let resource = '';
      let done = false;
      call.on('data', (req) => {
        if (done) return;
        if (!resource) {
          resource = req.resourceName;
          writeStarts.push(req.writeOffset);
        }
        const have = partials.get(resource) ?? Buffer.alloc(0);
        if (req.writeOffset !== have.length) {
          done = true;
          return cb(status(3, `write_offset ${req.writeOffset}, expected ${have.length}`));
        }
        const next = Buffer.concat([have, req.data]);
        partials.set(resource, next);
        if (faults.endEarly || (faults.shortCommit && req.finishWrite)) {
          done = true;
          return cb(null, { committedSize: faults.endEarly ? next.length : next.length - 1 });
        }
        if (req.finishWrite) {
          done = true;
          const m = /blobs\/([0-9a-f]{64})\/(\d+)$/.exec(resource);
          if (!m || hashBytes(next) !== m[1] || next.length !== Number(m[2])) return cb(status(3, 'digest mismatch'));
          partials.delete(resource);
          cas.set(m[1] as string, next);
          cb(null, { committedSize: next.length });
        }
      });
      call.on('error', () => {}); // a broken Write keeps its partial bytes for QueryWriteStatus
    }) as Handler,
    QueryWriteStatus: ((
      call: grpc.ServerUnaryCall<{ resourceName: string }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      if (faults.hangQueryWriteStatus) return faults.hangQueryWriteStatus();
      const m = /blobs\/([0-9a-f]{64})\/(\d+)$/.exec(call.request.resourceName);
      if (m && cas.has(m[1] as string)) return cb(null, { committedSize: Number(m[2]), complete: true });
      const p = partials.get(call.request.resourceName);
      if (p) return cb(null, { committedSize: p.length, complete: false });
      cb(status(5, 'no such upload'));
    }) as Handler,
  };
  const definition = {
    GetCapabilities: caps,
    FindMissingBlobs: findMissing,
    GetActionResult: getAr,
    UpdateActionResult: updateAr,
    Read: read,
    Write: write,
    QueryWriteStatus: query,
  };
  server.addService(definition as unknown as grpc.ServiceDefinition, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    target: `127.0.0.1:${port}`,
    url: `grpc://127.0.0.1:${port}`,
    cas,
    ac,
    partials,
    writeStarts,
    close: async () => server.forceShutdown(),
  };
}
