// Streaming pieces shared by both transports: upload bodies that can be reopened at an
// offset, an idle watchdog (timeouts are about lack of progress, not total time: a 10 GB
// blob on a slow link is fine while bytes move), and downloads that verify the digest and
// resume at the bytes already received when a safe read breaks mid-stream.
import { Readable } from 'node:stream';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { createHasher, type Digest } from '../core/digest.ts';
import { ClientError } from './client-error.ts';
import { retryDelay, type RetryContext, withRetry } from './retry-policy.ts';
import type { BodySource } from './types.ts';
import { setTimeout as sleep } from 'node:timers/promises';

/** The upload bytes from `offset`, in chunks of at most `chunkSize`. */
export async function* sourceChunks(
  body: BodySource,
  offset: number,
  chunkSize = 64 * 1024,
): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    for (let i = offset; i < body.byteLength; i += chunkSize)
      yield body.subarray(i, Math.min(body.byteLength, i + chunkSize));
    return;
  }
  for await (const chunk of body.open(offset) as AsyncIterable<Uint8Array>) {
    for (let i = 0; i < chunk.byteLength; i += chunkSize)
      yield chunk.subarray(i, Math.min(chunk.byteLength, i + chunkSize));
  }
}

/** A body for uploads from a file, reopened at an offset on retry. */
export function fileSource(open: (offset: number) => Readable): BodySource {
  return { open };
}

export interface WatchOptions {
  /** Fail when no chunk passes for this long. */
  readonly idleMs: number;
  readonly server: string;
  /** Called with the error when the watchdog fires, e.g. to abort the request. */
  readonly onIdle: (err: ClientError) => void;
  readonly onBytes?: (n: number) => void;
}

/** Passes chunks through, calling onIdle if none passes within idleMs. */
export async function* watched(chunks: AsyncIterable<Uint8Array>, w: WatchOptions): AsyncGenerator<Uint8Array> {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(
      () =>
        w.onIdle(
          new ClientError(`${w.server} made no progress for ${w.idleMs} ms`, { server: w.server, kind: 'timeout' }),
        ),
      w.idleMs,
    );
    timer.unref();
  };
  arm();
  try {
    for await (const c of chunks) {
      w.onBytes?.(c.byteLength);
      yield c;
      arm();
    }
  } finally {
    clearTimeout(timer);
  }
}

export interface DownloadSpec {
  readonly digest: Digest;
  readonly offset: number;
  readonly retry: RetryContext;
  /** Opens the blob at `offset`: undefined on a miss. Failures must be ClientErrors to be retried. */
  readonly open: (offset: number) => Promise<AsyncIterable<Uint8Array> | undefined>;
  readonly onBytes?: (total: number) => void;
  /** Default true; only a read from offset 0 can be verified. */
  readonly verify?: boolean;
}

/**
 * Opens a download (retrying the open per the policy) and returns its bytes, or undefined on
 * a miss. A stream that breaks mid-way is reopened at the bytes already received, under the
 * same retry decision (retryDelay) and one budget for breaks and failed reopens together;
 * the budget resets whenever bytes move (like Bazel's progressive backoff). A read from 0 is
 * verified against the digest: the stream errors at its end if the bytes do not match,
 * so a consumer must treat the data as valid only after the stream ended cleanly.
 */
export async function openDownload(spec: DownloadSpec): Promise<Readable | undefined> {
  const first = await withRetry(spec.retry, () => spec.open(spec.offset));
  if (!first) return undefined;
  return Readable.from(resumingBytes(spec, first));
}

async function* resumingBytes(spec: DownloadSpec, first: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const verify = spec.offset === 0 && spec.verify !== false;
  const hasher = verify ? createHasher() : undefined;
  let position = spec.offset;
  let current: AsyncIterable<Uint8Array> | undefined = first;
  let failures = 0;
  while (true) {
    try {
      current ??= await spec.open(position);
      if (!current)
        throw new ClientError(`${spec.digest.hash} vanished from ${spec.retry.server} during the download`, {
          server: spec.retry.server,
          kind: 'protocol',
        });
      for await (const chunk of current) {
        if (chunk.byteLength === 0) continue;
        failures = 0;
        hasher?.update(chunk);
        position += chunk.byteLength;
        if (position > spec.digest.sizeBytes) break;
        spec.onBytes?.(position);
        yield chunk;
      }
      break;
    } catch (err) {
      const delayMs = retryDelay(spec.retry, err, failures);
      if (delayMs === undefined) throw err;
      failures++;
      current = undefined;
      spec.retry.onEvent?.({
        type: 'resume',
        server: spec.retry.server,
        operation: spec.retry.operation,
        offset: position,
      });
      if (delayMs) await sleep(delayMs, undefined, { signal: spec.retry.signal });
    }
  }
  if (position !== spec.digest.sizeBytes) {
    throw new HoardError(
      ErrorCode.SizeMismatch,
      `${spec.retry.server} sent ${position - spec.offset} bytes of ${spec.digest.hash} from offset ${spec.offset}, expected ${spec.digest.sizeBytes - spec.offset}`,
    );
  }
  if (hasher) {
    const got = hasher.digest('hex');
    if (got !== spec.digest.hash)
      throw new HoardError(
        ErrorCode.DigestMismatch,
        `${spec.retry.server} sent bytes hashing to ${got} for ${spec.digest.hash}`,
      );
  }
}

/** Reads a whole (small-by-contract) stream into memory. */
export async function collect(stream: AsyncIterable<Uint8Array>, limit = 256 * 1024 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of stream) {
    total += c.byteLength;
    if (total > limit) throw new HoardError(ErrorCode.TooLarge, `response larger than ${limit} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts);
}
