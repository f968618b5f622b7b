// The disk store's two write paths, up to the hand-over to the group-commit writer (rule 1):
// a put is received into memory (small entries) or into a private temp file written
// through one handle (large ones), hashed and size-checked on the way in, and handed to the
// writer only when whole and verified. A large entry's file is renamed into blobs/ before
// the writer publishes it; a CAS put runs once per blob at a time (single flight).
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ErrorCode, HoardError, isHoardError, toHoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import { receive } from '../../core/receive.ts';
import { checkPut, putReceiveOptions } from '../check-put.ts';
import { isEmptyBlobKey } from '../empty-blob.ts';
import { SingleFlight } from '../single-flight.ts';
import type { Body, PutOptions, PutOutcome } from '../store.ts';
import { OWN_FILE } from './entry-index.ts';
import type { GroupCommitWriter } from './group-commit-writer.ts';
import { isNoSpace } from './file-system-bound.ts';
import { encodePut, setLocation } from './journal.ts';
import { blobPath, diskFootprint, tmpDir } from './layout.ts';
import { PipelinedFileWriter } from './pipelined-file-writer.ts';
import { slotOf } from './slot.ts';
import { overQuota } from './space-manager.ts';
import type { StoreState } from './store-state.ts';
import { syncDir } from './sync-dir.ts';

// A large put fdatasyncs as it goes, so the disk drains while later bytes hash.
const FLUSH_EVERY_BYTES = 8 * 1024 * 1024;

export class PutReceiver {
  readonly #s: StoreState;
  readonly #writer: GroupCommitWriter;
  readonly #smallEntryBytes: number;
  readonly #flights = new SingleFlight();
  readonly #blobDirs = new Set<string>();

  constructor(state: StoreState, writer: GroupCommitWriter, smallEntryBytes: number) {
    this.#s = state;
    this.#writer = writer;
    this.#smallEntryBytes = smallEntryBytes;
  }

  async put(key: Key, body: Body, options: PutOptions): Promise<PutOutcome> {
    const maxBytes = this.#s.effectiveMaxBytes;
    checkPut(key, options, maxBytes);
    if (this.#s.hasQuotas) {
      // An entry over its namespace's whole quota is refused before its body is read; one of
      // undeclared size, at its first byte over it (#receive), else at its commit.
      const quota = this.#s.index.namespaces.quotaOf(key.namespace);
      if (quota > 0 && options.size !== undefined && options.size > quota)
        throw overQuota(key.namespace, quota, options.size);
    }
    const slot = slotOf(key);
    if (key.keyspace !== 'cas') return this.#write(key, slot, body, options);

    // CAS: single flight per blob (rule 1: concurrent uploads of one digest are safe).
    const index = this.#s.index;
    return this.#flights.put(
      slot.toString('latin1'),
      body,
      putReceiveOptions(key, options, maxBytes),
      () => isEmptyBlobKey(key) || index.find(slot) >= 0,
      () => this.#write(key, slot, body, options),
    );
  }

  async #write(key: Key, slot: Buffer, body: Body, options: PutOptions): Promise<PutOutcome> {
    // A body in memory has a known size even when none was declared (AC puts from gRPC):
    // it belongs in a segment, not in a 4 KiB file of its own with two fsyncs.
    const known = options.size ?? (body instanceof Uint8Array ? body.byteLength : undefined);
    if (known !== undefined && known <= this.#smallEntryBytes) {
      const buffers: Buffer[] = [];
      const { size, crc } = await this.#receive(key, body, options, (c) => {
        if (c.byteLength > 0) buffers.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      });
      const record = encodePut(slot, key, size, crc);
      await this.#writer.enqueue<void>((done) => ({
        kind: 'append',
        slot,
        namespace: key.namespace,
        record,
        data: { buffers, size },
        done,
      }));
      return 'created';
    }
    return this.#writeOwnFile(key, slot, body, options, known ?? 0);
  }

  /** `reserved`: the size known in advance, 0 when unknown (room is then made at publish). */
  async #writeOwnFile(key: Key, slot: Buffer, body: Body, options: PutOptions, reserved: number): Promise<PutOutcome> {
    const s = this.#s;
    if (reserved > 0)
      await this.#writer.enqueue<void>((done) => ({ kind: 'reserve', bytes: diskFootprint(reserved), done }));
    const tmp = path.join(tmpDir(s.dir), randomBytes(12).toString('hex'));
    let fh: FileHandle | undefined;
    let writer: PipelinedFileWriter | undefined;
    try {
      fh = await open(tmp, 'wx');
      writer = new PipelinedFileWriter(fh, {
        flushEveryBytes: s.fsync ? FLUSH_EVERY_BYTES : 0,
        // The disk is full: the writer lowers the bound and makes room. A reservation counts
        // the whole file already; a file of undeclared size needs room for what it holds.
        onNoSpace: (written, writing) =>
          this.#writer.enqueue<boolean>((done) => ({
            kind: 'room',
            bytes: reserved > 0 ? 0 : written + writing,
            held: written,
            lower: true,
            done,
          })),
      });
      const sink = writer;
      const { size, crc } = await this.#receive(key, body, options, (c) => sink.push(c));
      await writer.finish();
      if (s.fsync) await fh.sync();
      await fh.close();
      fh = undefined;
      const record = encodePut(slot, key, size, crc);
      const generation = s.generation++;
      const final = blobPath(s.dir, slot, generation);
      await this.#ensureBlobDir(path.dirname(final));
      await rename(tmp, final);
      if (s.fsync) await syncDir(path.dirname(final));
      setLocation(record, OWN_FILE, generation);
      await this.#writer
        .enqueue<void>((done) => ({
          kind: 'publish',
          slot,
          namespace: key.namespace,
          record,
          size,
          generation,
          reserved: diskFootprint(reserved),
          done,
        }))
        .catch(async (err) => {
          await unlink(final).catch(() => undefined);
          throw err;
        });
      return 'created';
    } catch (err) {
      await writer?.abandon();
      if (fh) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      if (reserved > 0) s.reserved -= diskFootprint(reserved);
      if (isNoSpace(err))
        throw new HoardError(
          ErrorCode.InsufficientStorage,
          `the file system is full and no room could be made (${(err as Error).message})`,
          { cause: err },
        );
      throw toHoardError(err);
    }
  }

  /**
   * Receives a put's body into `sink`, verified. `crc`: the crc32 of the bytes for AC and raw
   * entries; 0 for CAS ones, whose hash verifies them (fsck re-hashes CAS, never reads it).
   */
  async #receive(
    key: Key,
    body: Body,
    options: PutOptions,
    sink: (c: Uint8Array) => void | Promise<void>,
  ): Promise<{ size: number; crc: number }> {
    const raw = key.keyspace !== 'cas';
    let crc = 0;
    const receiving = putReceiveOptions(key, options, this.#s.effectiveMaxBytes);
    const quota = this.#s.hasQuotas ? this.#s.index.namespaces.quotaOf(key.namespace) : 0;
    const overQuotaAt = quota > 0 && quota < receiving.maxBytes! ? quota : undefined;
    try {
      const { size } = await receive(
        body,
        overQuotaAt === undefined ? receiving : { ...receiving, maxBytes: overQuotaAt, overLimit: ErrorCode.TooLarge },
        (c) => {
          if (raw) crc = crc32(c, crc);
          return sink(c);
        },
      );
      return { size, crc };
    } catch (err) {
      if (overQuotaAt !== undefined && isHoardError(err, ErrorCode.TooLarge))
        throw overQuota(key.namespace, overQuotaAt);
      throw err;
    }
  }

  /** Creates blobs/<xx>/ once, durably (the directory's own name is synced in its parent). */
  async #ensureBlobDir(dir: string): Promise<void> {
    if (this.#blobDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.#s.fsync) await syncDir(path.dirname(dir));
    this.#blobDirs.add(dir);
  }
}
