// The Store contract over one S3 bucket (AWS S3, Ceph RGW, MinIO...): the shared, slow tier
// behind the disk. Objects are laid out as object-key.ts says: `<prefix>/<keyspace>/
// <namespace>/<id>`, both encoded, injective.
//
// Writes (rule 1: an object is visible only when whole and verified): bucket-upload.ts
// holds a small body in memory, or streams a large one as a multipart upload, and
// publishes only after receive() has checked the size and, for CAS, the hash; any failure
// publishes nothing. A CAS blob small enough for one PutObject is sent with
// `If-None-Match: *`: one request whether or not the bucket has it (412: `exists`; only
// then is its size asked, and another size is replaced). A larger one first asks
// HeadObject: a present blob of the declared size is not uploaded again (its body is
// drained and verified, and the put answers `exists`), which saves the parts' bandwidth.
// A multipart upload of a CAS blob another process completed first simply
// replaces it with the same bytes. Puts of one CAS key in this process upload once; the
// others wait for it and then drain and verify their own bodies. AC and raw puts replace.
//
// Reads: a miss (404) is `undefined`. get() streams GetObject's body; the caller consumes
// or destroys it. An object replaced or deleted while its stream is read keeps streaming
// the bytes it started with, as S3 serves them.
//
// Existence checks (has, stat) of a CAS blob this process saw present in the last minute
// are answered from memory (existence-cache.ts); everything else asks HeadObject, through
// a lean signed HEAD for the everyday answers (head-probe.ts).
//
// What a bucket cannot do: it has no bound and no cheap count, so usage() reports zeros
// (bytes, entries, maxBytes: unbounded) rather than figures that would be wrong; the
// bucket's own metrics are the operator's source for its size. It keeps no LRU order of
// its own: a lifecycle rule expires objects by age, and `refresh` (told of every use by the
// tier in front) copies objects older than `refreshAfterMs` onto themselves
// (object-refresher.ts), so what builds use stays young. `delete`
// asks HeadObject first, as S3 answers a delete of a missing object with success too.
//
// Concurrency: every method may run concurrently with every other. close() refuses new
// calls, waits for the ones in flight (a stream still being read is not waited for: it is
// cut when the client is destroyed), then destroys the client.
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { keyString, type Key } from '../../core/keys.ts';
import { receive } from '../../core/receive.ts';
import { checkPut, putReceiveOptions } from '../check-put.ts';
import { isEmptyBlobKey } from '../empty-blob.ts';
import { InFlight } from '../in-flight.ts';
import { inMemoryEntry } from '../in-memory-entry.ts';
import { resolveRange } from '../range.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from '../store.ts';
import { BucketUpload, SINGLE_PUT_MAX_BYTES } from './bucket-upload.ts';
import { normalizePrefix, objectKey } from './object-key.ts';
import { ExistenceCache } from './existence-cache.ts';
import { encodeKeyPath, HeadProbe } from './head-probe.ts';
import { ObjectRefresher } from './object-refresher.ts';
import { codeOf, s3Error, statusOf } from './s3-errors.ts';

/** HeadObject requests one has() keeps in flight. */
const HAS_PARALLELISM = 32;

export interface S3StoreOptions {
  /** e.g. http://127.0.0.1:7480; the SDK's AWS endpoint for the region when absent. */
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  /** Prepended to every object key (slashes at its ends are dropped). Default none. */
  readonly prefix?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which Ceph RGW and MinIO want. Default false. */
  readonly forcePathStyle?: boolean;
  /** Static keys; absent, the SDK's default chain reads them (AWS_* env, profile, role). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * The longest wait, in ms, for the bucket's answer to one request (its headers; a part's
   * upload included) and for the next bytes of a body being read. Default 30 s.
   */
  readonly requestTimeoutMs?: number;
  /** The longest wait, in ms, for a connection. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Attempts per request (the SDK retries 5xx, throttling and network errors). Default 3. */
  readonly maxAttempts?: number;
  /**
   * Objects older than this many ms are copied onto themselves when used (`refresh`), so a
   * lifecycle rule expiring by age spares what builds still use. 0 or absent: never.
   */
  readonly refreshAfterMs?: number;
}

type HeadResult = { readonly size: number; readonly lastModified?: number } | undefined;

export class S3Store implements Store {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #work = new InFlight();
  /** CAS uploads in flight in this process, by key string: later puts of a key wait. */
  readonly #casUploads = new Map<string, Promise<PutOutcome>>();
  readonly #existing = new ExistenceCache();
  readonly #probe: HeadProbe;
  readonly #refresher: ObjectRefresher | undefined;
  #closed = false;

  constructor(options: S3StoreOptions) {
    this.#bucket = options.bucket;
    this.#prefix = normalizePrefix(options.prefix);
    const timeout = options.requestTimeoutMs ?? 30_000;
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 3,
      // Streamed bodies with trailing checksums (aws-chunked) are the SDK's default; Ceph RGW
      // refuses them and other S3 servers store the framing as data. hoard verifies its own.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 5_000,
        requestTimeout: timeout,
        throwOnRequestTimeout: true,
        socketTimeout: timeout,
      },
    });
    this.#probe = new HeadProbe({
      endpoint: options.endpoint,
      region: options.region,
      bucket: options.bucket,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: this.#client.config.credentials,
      sha256: this.#client.config.sha256,
      requestTimeoutMs: timeout,
    });
    const refreshAfterMs = options.refreshAfterMs ?? 0;
    this.#refresher =
      refreshAfterMs > 0
        ? new ObjectRefresher({
            refreshAfterMs,
            target: {
              lastModified: async (key) => {
                const head = await this.#head(key);
                return head === undefined ? null : (head.lastModified ?? Date.now());
              },
              renew: (key) => this.#renew(key),
            },
          })
        : undefined;
    // Only with a refresher: a caller that finds no `refresh` skips collecting the keys.
    if (this.#refresher !== undefined) {
      const refresher = this.#refresher;
      this.refresh = (keys) => {
        if (!this.#closed) refresher.used(keys.filter((k) => !isEmptyBlobKey(k)));
      };
    }
  }

  /** Entries a build used: those older than `refreshAfterMs` are renewed in the background. */
  readonly refresh?: (keys: readonly Key[]) => void;

  /** What the refresher did so far; undefined when objects are not refreshed. */
  refreshStats(): ReturnType<ObjectRefresher['stats']> | undefined {
    return this.#refresher?.stats();
  }

  /** Resolves once the refresher has nothing queued or in flight. */
  refreshed(): Promise<void> {
    return this.#refresher?.idle() ?? Promise.resolve();
  }

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    return this.#track(async () => {
      const out = new Array<boolean>(keys.length).fill(false);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < keys.length; i = next++) {
          const key = keys[i]!;
          const size = isEmptyBlobKey(key) ? 0 : (this.#existing.size(key) ?? (await this.#head(key))?.size);
          out[i] = size !== undefined && (sizes === undefined || sizes[i] === size);
        }
      };
      await Promise.all(Array.from({ length: Math.min(HAS_PARALLELISM, keys.length) }, worker));
      return out;
    });
  }

  async stat(key: Key): Promise<number | undefined> {
    if (isEmptyBlobKey(key)) return 0;
    return this.#track(async () => this.#existing.size(key) ?? (await this.#head(key))?.size);
  }

  async get(key: Key, options: ReadOptions = {}): Promise<Entry | undefined> {
    const { offset = 0, limit = 0, signal } = options;
    if (isEmptyBlobKey(key)) {
      const { start, end } = resolveRange(0, offset, limit);
      return inMemoryEntry(0, Buffer.alloc(0).subarray(start, end));
    }
    resolveRange(Number.MAX_SAFE_INTEGER, offset, limit); // the checks that need no size
    return this.#track(async () => {
      const name = objectKey(this.#prefix, key);
      const range = offset === 0 && limit === 0 ? undefined : `bytes=${offset}-${limit ? offset + limit - 1 : ''}`;
      let out: GetObjectCommandOutput;
      try {
        out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: name, Range: range }), {
          abortSignal: signal,
        });
      } catch (err) {
        if (isMiss(err)) return undefined;
        // 416: the range starts at or past the end. At the end is an empty read, past it an error.
        if (statusOf(err) === 416 || codeOf(err) === 'InvalidRange') return this.#emptyReadAtEnd(key, offset);
        throw s3Error(err, this.#bucket, `GetObject ${name}`, signal?.aborted);
      }
      const stream = out.Body as Readable | undefined;
      const size = entrySize(out);
      // A server that ignores Range sends the whole object: those bytes are not the range.
      const wrong =
        stream === undefined ? 'no body' : size === undefined ? 'no size' : range && !out.ContentRange && 'no range';
      if (wrong) {
        stream?.destroy();
        throw new HoardError(ErrorCode.Internal, `S3 bucket ${this.#bucket} answered GetObject ${name} with ${wrong}`);
      }
      return { size: size!, stream: stream! };
    });
  }

  async getBytes(key: Key, options: { readonly signal?: AbortSignal } = {}): Promise<Buffer | undefined> {
    const entry = await this.get(key, options);
    if (entry === undefined) return undefined;
    try {
      return entry.bytes ?? (await buffer(entry.stream));
    } catch (err) {
      throw s3Error(err, this.#bucket, `reading ${objectKey(this.#prefix, key)}`, options.signal?.aborted);
    }
  }

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    this.#checkOpen();
    checkPut(key, options, 0);
    if (key.keyspace !== 'cas') return this.#work.track(this.#upload(key, body, options, false));
    return this.#work.track(this.#putCas(key, body, options));
  }

  async delete(key: Key): Promise<boolean> {
    if (isEmptyBlobKey(key)) return false;
    return this.#track(async () => {
      const present = (await this.#head(key)) !== undefined;
      // After the HEAD, which remembers what it finds: a deleted blob is not present.
      this.#existing.forget(key);
      if (!present) return false;
      const name = objectKey(this.#prefix, key);
      try {
        await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: name }));
      } catch (err) {
        if (isMiss(err)) return false;
        throw s3Error(err, this.#bucket, `DeleteObject ${name}`);
      }
      return true;
    });
  }

  /** Zeros: a bucket has no bound, and its size is not known cheaply (see the header). */
  usage(): StoreUsage {
    return { bytes: 0, maxBytes: 0, effectiveMaxBytes: 0, entries: 0, evictions: 0 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#refresher?.close();
    await this.#work.settled();
    this.#probe.close();
    this.#client.destroy();
  }

  /** Whether the bucket answers to these credentials: throws the HoardError it would give. */
  async check(signal?: AbortSignal): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), { abortSignal: signal });
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new HoardError(ErrorCode.Unavailable, `S3 bucket ${this.#bucket} does not exist`, { cause: err });
      }
      throw s3Error(err, this.#bucket, 'HeadBucket', signal?.aborted);
    }
  }

  /**
   * A CAS put: skipped when the blob is there (or being uploaded by this process and then
   * there), uploaded otherwise. An `exists` answer still reads and verifies the body.
   */
  async #putCas(key: Key, body: Body, options: PutOptions): Promise<PutOutcome> {
    const id = keyString(key);
    const verifyOnly = async (): Promise<PutOutcome> => {
      await receive(body, putReceiveOptions(key, options, 0), () => undefined);
      return 'exists';
    };
    if (isEmptyBlobKey(key)) return verifyOnly();
    for (let pending = this.#casUploads.get(id); pending; pending = this.#casUploads.get(id)) {
      if (
        await pending.then(
          () => true,
          () => false,
        )
      )
        return verifyOnly();
    }
    const work = (async () => {
      if (options.size! <= SINGLE_PUT_MAX_BYTES) return this.#putSmallCas(key, body, options);
      const present = await this.#head(key, options.signal);
      if (present !== undefined && present.size === options.size) return verifyOnly();
      return this.#upload(key, body, options, present === undefined);
    })();
    this.#casUploads.set(id, work);
    try {
      const outcome = await work;
      if (options.size !== undefined) this.#existing.present(key, options.size);
      return outcome;
    } finally {
      this.#casUploads.delete(id);
    }
  }

  /**
   * A CAS blob sent in one PutObject: no HeadObject first, since `If-None-Match: *` answers
   * "already there" in the same request (412). Only then is the object's size asked: bytes
   * of another size under this digest are not the blob, and are replaced.
   */
  async #putSmallCas(key: Key, body: Body, options: PutOptions): Promise<PutOutcome> {
    const upload = new BucketUpload({
      client: this.#client,
      bucket: this.#bucket,
      key: objectKey(this.#prefix, key),
      ifAbsent: true,
      signal: options.signal,
    });
    try {
      await receive(body, putReceiveOptions(key, options, 0), (chunk) => upload.take(chunk));
      if ((await upload.publish()) === 'created') return 'created';
      if ((await this.#head(key, options.signal))?.size === options.size) return 'exists';
      await upload.replace();
      return 'created';
    } catch (err) {
      await upload.discard();
      throw err;
    }
  }

  async #upload(key: Key, body: Body, options: PutOptions, ifAbsent: boolean): Promise<PutOutcome> {
    const upload = new BucketUpload({
      client: this.#client,
      bucket: this.#bucket,
      key: objectKey(this.#prefix, key),
      ifAbsent,
      signal: options.signal,
    });
    try {
      await receive(body, putReceiveOptions(key, options, 0), (chunk) => upload.take(chunk));
      return await upload.publish();
    } catch (err) {
      await upload.discard();
      throw err;
    }
  }

  /**
   * HeadObject: the object's size, or undefined on a miss. The lean probe answers the
   * everyday 200 and 404; anything else is asked again through the SDK (head-probe.ts).
   */
  async #head(key: Key, signal?: AbortSignal): Promise<HeadResult> {
    const name = objectKey(this.#prefix, key);
    const probing = this.#probe.enabled;
    const probed = probing ? await this.#probe.head(name, signal) : undefined;
    if (probed === null) return undefined;
    if (probed !== undefined) {
      this.#existing.present(key, probed.size);
      return probed;
    }
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: name }), {
        abortSignal: signal,
      });
      if (probing) this.#probe.doubtResolved();
      const size = out.ContentLength ?? 0;
      this.#existing.present(key, size);
      return { size, lastModified: out.LastModified?.getTime() };
    } catch (err) {
      if (isMiss(err)) {
        if (probing) this.#probe.doubtResolved();
        return undefined;
      }
      throw s3Error(err, this.#bucket, `HeadObject ${name}`, signal?.aborted);
    }
  }

  /** Copies an object onto itself (new metadata, same bytes): its Last-Modified becomes now. */
  async #renew(key: Key): Promise<void> {
    const name = objectKey(this.#prefix, key);
    try {
      await this.#client.send(
        new CopyObjectCommand({
          Bucket: this.#bucket,
          Key: name,
          CopySource: `${encodeKeyPath(this.#bucket)}/${encodeKeyPath(name)}`,
          MetadataDirective: 'REPLACE',
        }),
      );
    } catch (err) {
      throw s3Error(err, this.#bucket, `CopyObject ${name} onto itself`);
    }
  }

  /** A range read that S3 refused (416): empty at the end of the entry, OutOfRange past it. */
  async #emptyReadAtEnd(key: Key, offset: number): Promise<Entry | undefined> {
    const head = await this.#head(key);
    if (head === undefined) return undefined;
    resolveRange(head.size, offset, 0);
    return inMemoryEntry(head.size, Buffer.alloc(0));
  }

  /** Runs `fn` unless the store is closed, counted for close(). */
  #track<T>(fn: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    return this.#work.track(fn());
  }

  #checkOpen(): void {
    if (this.#closed) throw new HoardError(ErrorCode.Unavailable, 'the store is closed');
  }
}

function isMiss(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'NoSuchKey' || code === 'NotFound' || (statusOf(err) === 404 && code !== 'NoSuchBucket');
}

/** The whole object's size: from Content-Range (`bytes a-b/total`) for a range, else the length. */
function entrySize(out: GetObjectCommandOutput): number | undefined {
  const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
  if (total !== undefined) return Number(total);
  return out.ContentLength;
}
