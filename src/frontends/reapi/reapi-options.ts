// The REAPI frontend's options, defaulted and frozen once at start. The config module
// parses user input; this only fills defaults and checks the relations between limits.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, HoardError } from '../../core/errors.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface ReapiConfig {
  /** Instance names namespace the store (default true); false shares one namespace. */
  readonly instanceNamespacing?: boolean;
  /** Rule 6: AC hits only when every referenced blob is present (default true). */
  readonly acCompleteness?: boolean;
  /** Largest CAS blob accepted (advertised as max_cas_blob_size_bytes); 0 = no limit. */
  readonly maxBlobSize?: number;
  /**
   * Advertised max_batch_total_size_bytes: a bound on the blob bytes of one Batch* call.
   * Kept below maxReceiveMessageSize and below 4 MiB so a BatchRead reply fits older
   * clients' 4 MiB inbound limit. Default 4 MiB − 64 KiB.
   */
  readonly maxBatchTotalSize?: number;
  /** gRPC max receive message size. Default 8 MiB: well above the batch bound, so
   *  clients that count blob bytes rather than encoded bytes are not refused. */
  readonly maxReceiveMessageSize?: number;
  /** Bytes per ByteStream ReadResponse. Default 256 KiB. */
  readonly readChunkSize?: number;
  /** Total inlined stdout/stderr/file bytes in one GetActionResult reply. Default 3 MiB. */
  readonly inlineBudget?: number;
  /**
   * Where interrupted uploads are spooled for resumption; one server per directory (it
   * clears stale spools at start). Default <tmpdir>/hoard-partial-<pid>-<random>, so
   * several servers in one process (tests) never share one.
   */
  readonly partialUploadDir?: string;
  /**
   * Set when several request threads share `partialUploadDir` (`--workers N`): this thread's
   * 1-based index. A cut upload's spool is then left where any thread can resume it.
   */
  readonly partialUploadSharedBy?: number;
  /** Bound on spooled bytes; the oldest partial uploads are dropped first. Default 1 GiB. */
  readonly partialUploadMaxBytes?: number;
  /** Partial uploads untouched this long are dropped. Default 1 h. */
  readonly partialUploadMaxAgeMs?: number;
  /** Uploads smaller than this are not spooled (restarting them is cheaper). Default 1 MiB. */
  readonly partialUploadMinBytes?: number;
  /** A connection with no call for this long gets a GOAWAY (clients reconnect). Default 10 min. */
  readonly connectionIdleMs?: number;
  /** Server keepalive ping interval on a connection; its timeout is a third of it. Default 60 s. */
  readonly keepaliveMs?: number;
  /**
   * A call is ended (ABORTED; an upload stays resumable) when its client sends nothing, or
   * reads nothing of a Read/GetTree reply, for this long. Default 60 s; 0 disables (as HTTP's bodyIdleTimeout).
   */
  readonly bodyIdleTimeoutMs?: number;
  /** zstd level for compressed reads. Default 1 (fast; clients verify the digest anyway). */
  readonly zstdLevel?: number;
}

export type ReapiOptions = Required<Omit<ReapiConfig, 'partialUploadSharedBy'>> &
  Pick<ReapiConfig, 'partialUploadSharedBy'>;

export function resolveReapiOptions(config: ReapiConfig = {}): ReapiOptions {
  const o: ReapiOptions = {
    instanceNamespacing: config.instanceNamespacing ?? true,
    acCompleteness: config.acCompleteness ?? true,
    maxBlobSize: config.maxBlobSize ?? 0,
    maxBatchTotalSize: config.maxBatchTotalSize ?? 4 * MiB - 64 * KiB,
    maxReceiveMessageSize: config.maxReceiveMessageSize ?? 8 * MiB,
    readChunkSize: config.readChunkSize ?? 256 * KiB,
    inlineBudget: config.inlineBudget ?? 3 * MiB,
    partialUploadDir:
      config.partialUploadDir ??
      path.join(os.tmpdir(), `hoard-partial-${process.pid}-${randomBytes(4).toString('hex')}`),
    partialUploadSharedBy: config.partialUploadSharedBy,
    partialUploadMaxBytes: config.partialUploadMaxBytes ?? 1 * GiB,
    partialUploadMaxAgeMs: config.partialUploadMaxAgeMs ?? 60 * 60 * 1000,
    partialUploadMinBytes: config.partialUploadMinBytes ?? 1 * MiB,
    connectionIdleMs: config.connectionIdleMs ?? 10 * 60_000,
    keepaliveMs: config.keepaliveMs ?? 60_000,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs ?? 60_000,
    zstdLevel: config.zstdLevel ?? 1,
  };
  if (o.maxBatchTotalSize <= 0 || o.maxBatchTotalSize >= o.maxReceiveMessageSize) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `maxBatchTotalSize (${o.maxBatchTotalSize}) must be positive and below maxReceiveMessageSize (${o.maxReceiveMessageSize})`,
    );
  }
  if (o.readChunkSize <= 0 || o.readChunkSize > 2 * MiB) {
    throw new HoardError(ErrorCode.InvalidArgument, `readChunkSize must be 1..${2 * MiB} bytes`);
  }
  if (!(o.bodyIdleTimeoutMs >= 0))
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `bodyIdleTimeoutMs must not be negative, got ${o.bodyIdleTimeoutMs}`,
    );
  return Object.freeze(o);
}
