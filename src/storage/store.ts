// The store contract every tier implements (memory, disk, S3, and wrappers around them).
// It knows keys and bytes only: no HTTP status, no protobuf type. Frontends map outcomes
// and HoardError codes to their wire protocol.
import type { Readable } from 'node:stream';
import type { Key } from '../core/keys.ts';

/** Where a put's bytes come from. A Node Readable is an AsyncIterable and fits. */
export type Body = Uint8Array | AsyncIterable<Uint8Array>;

export interface PutOptions {
  /**
   * The size the sender declared (Content-Length, digest size). Fewer or more bytes fail
   * with SizeMismatch and publish nothing. Required for CAS keys.
   */
  readonly size?: number;
  /**
   * A bound for this put (a frontend's largest accepted blob): a body over it fails with
   * TooLarge at the first extra byte, or at once when the declared size is over it. The
   * store's own bound applies too; the smaller one wins.
   */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  /**
   * The body's sha256 (hex) as its producer computed it from the very bytes it handed over,
   * read once the body has ended: a request thread hashes an upload while it forwards it, so
   * the store thread compares this with a CAS key instead of hashing the bytes again.
   */
  readonly bodySha256?: () => string | undefined;
  /**
   * The body's chunks are given away as they are yielded: nothing reads or reuses them
   * afterwards (a request's own socket reads). A store on another thread may then take a
   * chunk's whole buffer over instead of copying it.
   */
  readonly handsOverChunks?: boolean;
}

/**
 * `created`: this call published the entry. `exists`: an equal CAS entry was already
 * there (or another concurrent put of it won); the body was drained, not stored twice.
 */
export type PutOutcome = 'created' | 'exists';

export interface ReadOptions {
  /** First byte to return; must be 0..size. */
  readonly offset?: number;
  /** Most bytes to return; 0 or undefined means "to the end". */
  readonly limit?: number;
  readonly signal?: AbortSignal;
  /**
   * The caller reads `file.span` in place when there is one (a request thread reading the
   * store thread's descriptor): a store may then answer a larger entry with a span of its
   * file rather than read it into memory first.
   */
  readonly inPlace?: boolean;
}

/**
 * A readable entry. `stream` yields bytes [offset, offset+limit) and must be consumed or
 * destroyed by the caller: until then the store keeps those bytes readable even if the
 * entry is evicted or overwritten meanwhile.
 */
export interface Entry {
  /** The whole entry's size, whatever range was asked for. */
  readonly size: number;
  readonly stream: Readable;
  /**
   * The same bytes as `stream`, when the store read them into memory whole: a consumer may
   * send these and leave `stream` untouched (it is then never created).
   */
  readonly bytes?: Buffer;
  /**
   * For an entry read from a file: a positional reader over the same bytes, so a consumer
   * can read into buffers of its own and reuse them (a large download then allocates
   * nothing per chunk). A consumer that uses it leaves `stream` untouched (it is then never
   * created) and calls `file.close()` once done, whatever happened.
   */
  readonly file?: EntryFile;
  /**
   * Hands `bytes` back for reuse. Call it only once nothing can read them any more (e.g.
   * after the transport reported them written); never calling it is safe.
   */
  release?(): void;
}

/** Positional reads of an entry's range (see `Entry.file`). */
export interface EntryFile {
  /**
   * Reads up to `buffer.byteLength` bytes of the entry's range, starting `offset` bytes into
   * it, into `buffer`; resolves how many were read (0 at the range's end).
   */
  read(buffer: Uint8Array, offset: number): Promise<number>;
  /** Releases the file. Idempotent. */
  close(): Promise<void>;
  /**
   * Where the range lies in a descriptor this process holds open until `close()`: a request
   * thread of the same process can then read the bytes itself (src/workers/remote-store.ts)
   * instead of having them copied across threads.
   */
  readonly span?: FileSpan;
}

/** A byte range of an open file descriptor (see `EntryFile.span`). */
export interface FileSpan {
  readonly fd: number;
  /** The range's first byte in the file. */
  readonly start: number;
  readonly length: number;
}

export interface StoreUsage {
  /** Bytes on the medium, counted as the store really uses them. */
  readonly bytes: number;
  /** The configured bound; 0 means unbounded. */
  readonly maxBytes: number;
  /**
   * The bound the store works to now: `maxBytes`, or less once the medium refused a write
   * for lack of space (a full file system is a bound too). 0 means unbounded.
   */
  readonly effectiveMaxBytes: number;
  readonly entries: number;
  readonly evictions: number;
  /**
   * A composed store's tiers, front first, each with its own figures (the top-level ones
   * are the front tier's). Absent on a single store, which is its own only tier.
   */
  readonly tiers?: readonly TierUsage[];
  /**
   * Bytes and entries per namespace, for a store that counts them (the disk store). A
   * bounded list, so that a metric label per namespace stays bounded: the 50 largest
   * namespaces plus up to 50 with a quota, fullest first (storage/disk/namespace-table.ts).
   */
  readonly namespaces?: readonly NamespaceUsage[];
  /** How a store that may be unreachable is doing (a bucket behind a circuit breaker). */
  readonly health?: StoreHealth;
}

export interface StoreHealth {
  /** Failed or overrun reads since it was opened. */
  readonly errors: number;
  /** False while reads are not even tried (the breaker is open): they answer misses. */
  readonly available: boolean;
  /** The last failure, for operators (never a secret). */
  readonly lastError?: string;
}

/** One namespace's figures ('' is the default namespace). */
export interface NamespaceUsage {
  readonly namespace: string;
  /** The sizes of its entries, as its quota counts them. */
  readonly bytes: number;
  readonly entries: number;
  /** Its quota, when a rule gives it one. */
  readonly quotaBytes?: number;
}

/** One tier of a composed store (`src/storage/tier.ts` names them). */
export interface TierUsage extends Omit<StoreUsage, 'tiers'> {
  /** Unique within the stack ('disk', 'bucket'); the `tier` label of the store metrics. */
  readonly name: string;
  /** The implementation: 'disk', 'memory', 's3'. */
  readonly kind: string;
  /** Failed reads or writes against this tier since the stack was opened. */
  readonly errors?: number;
  /** Writes accepted for this tier and not yet in it (a write-behind queue). */
  readonly pending?: number;
  /** False while the tier is not asked at all (its circuit breaker is open). */
  readonly available?: boolean;
  /** The tier's last failure, for operators. */
  readonly lastError?: string;
}

export interface Store {
  /**
   * Which of `keys` are present and readable, in order. Present entries are refreshed
   * in the LRU. Never true for an entry a following read cannot serve (rule 1).
   * With `sizes` (parallel to `keys`), an entry of another size counts as absent: a CAS
   * digest is its hash and its size.
   */
  has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]>;

  /**
   * Optional: `has` for default-namespace CAS keys given as packed 32-byte sha256 digests
   * (FindMissingBlobs through a request thread), one byte per key (1 = present), without a
   * key object per digest. Same answers, same LRU refresh as `has`.
   */
  hasDigests?(digests: Uint8Array, sizes?: ArrayLike<number>): Promise<Uint8Array>;

  /** The entry's size, or undefined on a miss. Refreshes it. */
  stat(key: Key): Promise<number | undefined>;

  /** A miss is `undefined`. Throws OutOfRange for an offset beyond the size. */
  get(key: Key, options?: ReadOptions): Promise<Entry | undefined>;

  /** The whole entry in memory, for small values (AC entries, trees). */
  getBytes(key: Key, options?: { readonly signal?: AbortSignal }): Promise<Buffer | undefined>;

  /**
   * Receives, verifies (CAS: hash and size) and publishes atomically (rule 1): the entry
   * is readable only after all of it is durable. Any failure publishes nothing.
   * AC and raw puts replace an existing value; CAS puts of a present blob return `exists`.
   * The store may keep the body's buffers (a Uint8Array body, or the chunks an iterable
   * yields) after put resolves, as the disk store's read cache does: the caller hands them
   * over and must not change them afterwards.
   */
  put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome>;

  /** Removes an entry; false when it was not there. */
  delete(key: Key): Promise<boolean>;

  /**
   * Optional: builds used these entries (hits served by a tier in front, entries an
   * existence check found), which a tier that expires by age renews in the background
   * (the bucket: s3/object-refresher.ts). Never waits and never fails.
   */
  refresh?(keys: readonly Key[]): void;

  usage(): StoreUsage;

  /** Finishes in-flight writes, makes everything durable, releases files. */
  close(): Promise<void>;
}
