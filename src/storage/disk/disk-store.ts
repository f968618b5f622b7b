// The embedded disk store: hoard's default tier. This file is the Store facade: it opens
// the store (recovery.ts) and wires its parts, which share one StoreState (store-state.ts):
//
// - reads (entry-reader.ts): has, stat, get and getBytes from the index, the read cache
//   (read-cache.ts) and the files;
// - the write paths (put-receiver.ts): a put received into memory or a private temp file,
//   verified, then handed to the writer (rule 1);
// - the single writer (group-commit-writer.ts): the queue of puts and deletes, taken as
//   one batch per group commit, and the retry after a full disk;
// - one group commit (batch-committer.ts, commit-batch.ts): room, placement, the I/O on
//   the commit worker (commit-syncer.ts), publication once durable, and taking back a
//   commit that failed before its journal write;
// - space management (space-manager.ts): eviction and compaction within the bound;
// - the file system's own bound (file-system-bound.ts): a full disk lowers the bound the
//   store works to (`StoreUsage.effectiveMaxBytes`) instead of failing writes;
// - the journal rewrite (journal-rewrite.ts), tried after commits once the journal is
//   mostly history;
// - namespaces (namespace-table.ts): bytes and entries per namespace, counted by the
//   index, and their quotas, which space management enforces first.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import { InFlight } from '../in-flight.ts';
import type { Body, Entry, NamespaceUsage, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from '../store.ts';
import { BatchCommitter } from './batch-committer.ts';
import { CommitSyncer, type CommitRunner } from './commit-syncer.ts';
import { lockDir, type DirLock } from './dir-lock.ts';
import { EntryReader } from './entry-reader.ts';
import { FileSystemBound, type BoundListener } from './file-system-bound.ts';
import { GroupCommitWriter } from './group-commit-writer.ts';
import { encodeDelete } from './journal.ts';
import { JournalRewriter } from './journal-rewrite.ts';
import type { QuotaRule } from './namespace-table.ts';
import { PutReceiver } from './put-receiver.ts';
import { ReadCache } from './read-cache.ts';
import { recoverStore, type RecoveryReport } from './recovery.ts';
import { Segment, type OpenFile } from './segment.ts';
import { slotOf } from './slot.ts';
import { SpaceManager } from './space-manager.ts';
import { StoreState } from './store-state.ts';

export type { RecoveryReport } from './recovery.ts';

export type Durability = 'fsync' | 'none';

export interface DiskStoreOptions {
  /** The store directory; created if missing. */
  readonly dir: string;
  /** Bound on bytes on disk; 0 = unbounded. */
  readonly maxBytes: number;
  /**
   * 'fsync' (default): an acknowledged put survives a process crash and a power loss.
   * 'none': survives a process crash only (the OS still holds the bytes); for caches on
   * throwaway disks. Run `hoard fsck` after a power loss.
   */
  readonly durability?: Durability;
  /** Entries up to this size are packed into segments; larger ones get a file each. */
  readonly smallEntryBytes?: number;
  /** Memory for recently used entries of up to 64 KiB (default 64 MiB; 0 disables). */
  readonly readCacheBytes?: number;
  /** A segment is sealed once it reaches this size. */
  readonly segmentBytes?: number;
  /**
   * The journal is rewritten (one record per live entry) once it holds this many records
   * more than twice the entries. Default 100,000; tests set it low.
   */
  readonly journalCompactionSlack?: number;
  /**
   * Told when the bound the store works to falls below `maxBytes` because the file system
   * holds less (found at open, or when a write failed for lack of space), and when it is
   * back to `maxBytes`; the server logs it. `usage().effectiveMaxBytes` has the figure.
   */
  readonly onEffectiveMaxBytes?: BoundListener;
  /**
   * Byte quotas per namespace (`--namespace-quota`, the first rule naming a namespace wins):
   * a put over its namespace's quota evicts that namespace's least recently used entries
   * first; an entry over the whole quota is refused (TooLarge). None by default.
   */
  readonly namespaceQuotas?: readonly QuotaRule[];
  /**
   * For tests: makes the runner of the group commits' I/O (default: a CommitSyncer, the
   * commit worker), so a test can hold, record or fail commits of this store only.
   */
  readonly commitRunner?: () => CommitRunner;
  /** For tests: opens the new segment the writer rolls to (default Segment.open). */
  readonly openSegment?: typeof Segment.open;
  /**
   * For tests: opens the journal and the segment files (default fs.promises.open), so a
   * test can wrap a handle to hold or fail its reads, writes or truncation.
   */
  readonly openFile?: OpenFile;
}

export interface DiskStore extends Store {
  readonly dir: string;
  /** What opening found and repaired, for the startup log line. */
  readonly recovery: RecoveryReport;
  /** Bytes held by the in-memory index. */
  readonly indexMemoryBytes: number;
  /** Every namespace's figures now, `limit` of each kind (`usage().namespaces` may be a second old). */
  namespaceUsage(limit?: number): NamespaceUsage[];
}

export async function openDiskStore(options: DiskStoreOptions): Promise<DiskStore> {
  const store = new DiskStoreImpl(options);
  await store.open();
  return store;
}

const DEFAULT_SMALL_ENTRY = 1024 * 1024;
/**
 * How old `usage().namespaces` may be: usage() is asked after every write a request thread
 * made (store-host.ts), and listing sorts every namespace.
 */
const NAMESPACE_LIST_MS = 1000;

class DiskStoreImpl implements DiskStore {
  readonly dir: string;
  readonly #s: StoreState;
  readonly #reader: EntryReader;
  readonly #writer: GroupCommitWriter;
  readonly #receiver: PutReceiver;
  readonly #bound: FileSystemBound;
  readonly #puts = new InFlight();
  readonly #openFile: OpenFile | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #lock!: DirLock;
  #namespaces: { list: readonly NamespaceUsage[]; version: number; at: number } | undefined;
  recovery!: RecoveryReport;

  constructor(options: DiskStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.#openFile = options.openFile;
    const smallEntryBytes = options.smallEntryBytes ?? DEFAULT_SMALL_ENTRY;
    const state = new StoreState(
      this.dir,
      {
        maxBytes: options.maxBytes,
        fsync: (options.durability ?? 'fsync') === 'fsync',
        smallEntryBytes,
        segmentBytes: options.segmentBytes,
        quotas: options.namespaceQuotas,
      },
      new ReadCache(options.readCacheBytes ?? 64 * 1024 * 1024),
    );
    this.#s = state;
    this.#reader = new EntryReader(state);
    this.#bound = new FileSystemBound(state, options.onEffectiveMaxBytes);
    this.#writer = new GroupCommitWriter(
      new BatchCommitter(
        state,
        {
          space: new SpaceManager(state),
          rewriter: new JournalRewriter(state, options.journalCompactionSlack ?? 100_000),
          bound: this.#bound,
        },
        {
          runner: options.commitRunner?.() ?? new CommitSyncer(),
          openSegment:
            options.openSegment ??
            (options.openFile ? (dir, id, create) => Segment.open(dir, id, create, options.openFile) : Segment.open),
        },
      ),
    );
    this.#receiver = new PutReceiver(state, this.#writer, smallEntryBytes);
  }

  get indexMemoryBytes(): number {
    return this.#s.index.memoryBytes;
  }

  async open(): Promise<void> {
    const started = performance.now();
    await mkdir(this.dir, { recursive: true });
    this.#lock = await lockDir(this.dir);
    try {
      const r = await recoverStore(this.dir, this.#s.index, started, this.#openFile);
      this.#s.adopt(r);
      this.recovery = r.report;
      await this.#bound.open();
    } catch (err) {
      await this.#lock.release();
      throw err;
    }
  }

  has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    return this.#reader.has(keys, sizes);
  }

  hasDigests(digests: Uint8Array, sizes?: ArrayLike<number>): Promise<Uint8Array> {
    return this.#reader.hasDigests(digests, sizes);
  }

  stat(key: Key): Promise<number | undefined> {
    return this.#reader.stat(key);
  }

  get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    return this.#reader.get(key, options);
  }

  getBytes(key: Key, options?: { signal?: AbortSignal }): Promise<Buffer | undefined> {
    return this.#reader.getBytes(key, options);
  }

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    this.#checkOpen();
    return this.#puts.track(this.#receiver.put(key, body, options));
  }

  async delete(key: Key): Promise<boolean> {
    this.#checkOpen();
    const slot = slotOf(key);
    if (this.#s.index.find(slot) < 0) return false;
    return this.#writer.enqueue<boolean>((done) => ({ kind: 'delete', slot, record: encodeDelete(slot), done }));
  }

  usage(): StoreUsage {
    const s = this.#s;
    return {
      bytes: s.diskBytes(),
      maxBytes: s.maxBytes,
      effectiveMaxBytes: s.effectiveMaxBytes,
      entries: s.index.size,
      evictions: s.evictions,
      namespaces: this.#namespaceList(),
    };
  }

  namespaceUsage(limit?: number): NamespaceUsage[] {
    return this.#s.index.namespaces.list(limit);
  }

  /** The listed namespaces, listed again once they changed and the list is a second old. */
  #namespaceList(): readonly NamespaceUsage[] {
    const version = this.#s.index.namespaces.version;
    const now = performance.now();
    const last = this.#namespaces;
    if (last !== undefined && (last.version === version || now - last.at < NAMESPACE_LIST_MS)) return last.list;
    this.#namespaces = { list: this.namespaceUsage(), version, at: now };
    return this.#namespaces.list;
  }

  /** Refuses new puts and deletes at once, waits for the puts in flight, then closes files. */
  close(): Promise<void> {
    this.#closed = true;
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    await this.#puts.settled();
    await this.#writer.close();
    const s = this.#s;
    await s.journal.close();
    for (const seg of s.segments.values()) {
      if (seg === s.active && seg.size === 0) await seg.remove();
      else await seg.close();
    }
    await this.#lock.release();
  }

  #checkOpen(): void {
    if (this.#closed) throw new HoardError(ErrorCode.Unavailable, 'the store is closed');
  }
}
