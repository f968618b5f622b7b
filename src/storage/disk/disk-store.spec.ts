import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { digestOf } from '../../core/digest.ts';
import { isHoardError } from '../../core/errors.ts';
import { acKey, casKey, rawKey } from '../../core/keys.ts';
import { storeConformance } from '../../../test/conformance/store-conformance.ts';
import { openDiskStore, type DiskStore, type DiskStoreOptions } from './disk-store.ts';
import { Op, scanJournal } from './journal.ts';
import { Segment, type OpenFile } from './segment.ts';
import {
  CommitFailed,
  CommitSyncer,
  startCommitWorker,
  type CommitRequest,
  type CommitRunner,
  type CommitStep,
} from './commit-syncer.ts';
import { slotOf } from './slot.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'hoard-disk-'));
  dirs.push(d);
  return d;
}

/**
 * A store's commit runner as the tests see it (passed in through `commitRunner`): the real
 * commit worker, whose next commit a test can fail, hold or replace, and whose requests it
 * can record.
 */
class CommitTap implements CommitRunner {
  #real: CommitRunner = new CommitSyncer();
  /** Stand-ins for the next commits, in order, each used once instead of the real runner. */
  readonly queued: ((request: CommitRequest, real: CommitRunner) => Promise<void>)[] = [];
  recorded: CommitRequest[] | undefined;

  /** The runner option of a store: each store (a reopen too) gets its own worker behind the tap. */
  attach(real: CommitRunner): CommitTap {
    this.#real = real;
    return this;
  }

  run(request: CommitRequest): Promise<void> {
    this.recorded?.push(request);
    const next = this.queued.shift();
    return next ? next(request, this.#real) : this.#real.run(request);
  }

  close(): Promise<void> {
    return this.#real.close();
  }
}

/**
 * Makes the store's next commit fail at `failedAt` with `message` (its code is the part
 * before the colon). With `tornBytes`, that many bytes of its journal records really reach
 * the journal first, written by the worker. Returns the undo, for a `finally`.
 */
function failNextCommit(commits: CommitTap, failedAt: CommitStep, message: string, tornBytes?: number): () => void {
  const fail = async (request: CommitRequest, real: CommitRunner) => {
    if (tornBytes !== undefined)
      await real.run({ ...request, records: [Buffer.concat(request.records).subarray(0, tornBytes)] });
    throw new CommitFailed({ ok: false, failedAt, message, code: message.split(':')[0] });
  };
  commits.queued.push(fail);
  return () => {
    const at = commits.queued.indexOf(fail);
    if (at >= 0) commits.queued.splice(at, 1);
  };
}

/**
 * A fresh store for the commit tests: its CAS put, has() by blob, the names of its segment
 * files, a reopen with the same options, and the tap on its commits.
 */
async function openTestStore(options: Omit<DiskStoreOptions, 'dir'>) {
  const dir = await freshDir();
  const commits = new CommitTap();
  const opts: DiskStoreOptions = { dir, commitRunner: () => commits.attach(new CommitSyncer()), ...options };
  const s = await openDiskStore(opts);
  return {
    dir,
    s,
    commits,
    put: (d: Buffer) => s.put(casKey(digestOf(d).hash), d, { size: d.length }),
    segments: () => readdir(path.join(dir, 'segments')),
    /**
     * The segment files once `settled` holds of them, or after a second: a commit answers
     * its puts before it removes what the journal no longer references (bytes go last).
     */
    settledSegments: async (settled: (names: string[]) => boolean) => {
      let names = await readdir(path.join(dir, 'segments'));
      for (let i = 0; i < 100 && !settled(names); i++) {
        await sleep(10);
        names = await readdir(path.join(dir, 'segments'));
      }
      return names;
    },
    reopen: () => openDiskStore(opts),
  };
}

/** Which of `blobs` `store` holds, by their CAS keys. */
function holds(store: DiskStore, blobs: readonly Buffer[]): Promise<boolean[]> {
  return store.has(blobs.map((b) => casKey(digestOf(b).hash)));
}

/** The commit requests the store makes while `work` runs. */
async function commitsDuring(commits: CommitTap, work: () => Promise<unknown>): Promise<CommitRequest[]> {
  const requests: CommitRequest[] = [];
  commits.recorded = requests;
  try {
    await work();
  } finally {
    commits.recorded = undefined;
  }
  return requests;
}

/** Holds the store's next commit until the returned release is called, so later puts queue up behind it and commit as one batch. */
function holdNextCommit(commits: CommitTap): () => void {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  commits.queued.push(async (request, real) => {
    await gate;
    return real.run(request);
  });
  return release;
}

/** Asserts that `put` is refused because the store's next commit fails as `failNextCommit` makes it. */
async function rejectedByFailedCommit(
  commits: CommitTap,
  put: () => Promise<unknown>,
  failedAt: CommitStep,
  message: string,
  tornBytes?: number,
): Promise<void> {
  const undo = failNextCommit(commits, failedAt, message, tornBytes);
  try {
    await assert.rejects(put(), (err: Error) => err.message.includes(message));
  } finally {
    undo();
  }
}

// Small segments and a small-entry threshold below some test blobs, so both the segment
// path and the file-per-entry path (and compaction) run under the same contract.
storeConformance('DiskStore', async ({ maxBytes }) =>
  openDiskStore({ dir: await freshDir(), maxBytes, smallEntryBytes: 32 * 1024, segmentBytes: 48 * 1024 }),
);

describe('DiskStore recovery and bounds', () => {
  const put = (s: DiskStore, data: Buffer) => s.put(casKey(digestOf(data).hash), data, { size: data.length });

  it('keeps entries across a restart, small and large alike', async () => {
    const dir = await freshDir();
    const blobs = [randomBytes(100), randomBytes(20_000), randomBytes(300_000)];
    let s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 64 * 1024 });
    for (const b of blobs) await put(s, b);
    await s.put(acKey('a'.repeat(64)), Buffer.from('result'), { size: 6 });
    await s.close();
    s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 64 * 1024 });
    try {
      for (const b of blobs) assert.deepEqual(await s.getBytes(casKey(digestOf(b).hash)), b);
      assert.equal((await s.getBytes(acKey('a'.repeat(64))))?.toString(), 'result');
      assert.equal(s.recovery.entries, 4);
    } finally {
      await s.close();
    }
  });

  it('keeps a zero-length raw entry across restarts (it owns no segment bytes)', async () => {
    // Found by the model test: the entry's segment looked empty and was removed on open.
    const dir = await freshDir();
    let s = await openDiskStore({ dir, maxBytes: 0 });
    await s.put(rawKey('empty-value'), Buffer.alloc(0), { size: 0 });
    await s.close();
    for (let i = 0; i < 2; i++) {
      s = await openDiskStore({ dir, maxBytes: 0 });
      assert.equal((await s.getBytes(rawKey('empty-value')))?.length, 0, `after restart ${i + 1}`);
      await s.put(rawKey('empty-value'), Buffer.alloc(0), { size: 0 });
      await s.close();
    }
  });

  it('cuts a torn journal tail on open and keeps appending after the intact records', async () => {
    const dir = await freshDir();
    const [a, b, c] = [randomBytes(500), randomBytes(600), randomBytes(700)];
    let s = await openDiskStore({ dir, maxBytes: 0 });
    await put(s, a);
    await put(s, b);
    await s.close();
    // A crash in the middle of a record: half a frame header and some garbage.
    await appendFile(path.join(dir, 'journal'), Buffer.from([0x45, 0x00, 0x00, 0x00, 0x13, 0x37, 0xbe]));
    s = await openDiskStore({ dir, maxBytes: 0 });
    assert.equal(s.recovery.tornBytesCut, 7);
    assert.equal(s.recovery.journalRewritten, false, 'a torn tail is cut, not a reason to rewrite');
    await put(s, c);
    await s.close();
    // Without the cut, c's record would sit behind the garbage and vanish on this open.
    s = await openDiskStore({ dir, maxBytes: 0 });
    try {
      for (const x of [a, b, c]) assert.deepEqual(await s.getBytes(casKey(digestOf(x).hash)), x);
      assert.equal(s.recovery.tornBytesCut, 0);
    } finally {
      await s.close();
    }
  });

  it('writes journal records at the length it counts, not after bytes that appeared behind it (no O_APPEND)', async () => {
    const dir = await freshDir();
    const [a, b] = [randomBytes(500), randomBytes(600)];
    let s = await openDiskStore({ dir, maxBytes: 0 });
    try {
      await put(s, a);
      // Torn bytes the store did not write (as a failed append's would be, were its cut lost).
      await appendFile(path.join(dir, 'journal'), Buffer.from([0x45, 0x00, 0x00, 0x00, 0x13, 0x37, 0xbe]));
      await put(s, b);
    } finally {
      await s.close();
    }
    // Appended after the garbage, b's record would be cut off with it on this open.
    s = await openDiskStore({ dir, maxBytes: 0 });
    try {
      for (const x of [a, b]) assert.deepEqual(await s.getBytes(casKey(digestOf(x).hash)), x);
    } finally {
      await s.close();
    }
  });

  it('drops index entries whose bytes are missing instead of reporting them present', async () => {
    const dir = await freshDir();
    const [a, b] = [randomBytes(1000), randomBytes(1000)];
    let s = await openDiskStore({ dir, maxBytes: 0 });
    await put(s, a);
    await put(s, b);
    await s.close();
    const segs = await readdir(path.join(dir, 'segments'));
    await truncate(path.join(dir, 'segments', segs.sort()[0]!), 1500); // b's bytes cut short
    s = await openDiskStore({ dir, maxBytes: 0 });
    try {
      assert.deepEqual(await holds(s, [a, b]), [true, false]);
      assert.equal(s.recovery.danglingEntriesDropped, 1);
    } finally {
      await s.close();
    }
  });

  it('never gives a new segment the id of one the journal names, even when that file is gone', async () => {
    // On a full disk the journal rewrite at open may be skipped, leaving records that name a
    // missing segment: a new segment of that id would make them name its bytes.
    const dir = await freshDir();
    const opts = { dir, maxBytes: 0, segmentBytes: 1000 };
    let s = await openDiskStore(opts);
    const [a, b] = [randomBytes(600), randomBytes(600)];
    await s.put(casKey(digestOf(a).hash), a, { size: a.length });
    await s.put(casKey(digestOf(b).hash), b, { size: b.length }); // rolls: b in the second segment
    await s.close();
    const segs = (await readdir(path.join(dir, 'segments'))).sort();
    assert.equal(segs.length, 2);
    await rm(path.join(dir, 'segments', segs[1]!));
    s = await openDiskStore(opts);
    try {
      assert.deepEqual(await holds(s, [a, b]), [true, false]);
      const now = (await readdir(path.join(dir, 'segments'))).sort();
      assert.ok(!now.includes(segs[1]!), `the new active segment is not ${segs[1]} (${now.join(' ')})`);
    } finally {
      await s.close();
    }
  });

  it('drops an entry whose own file is gone (has and get agree: absent)', async () => {
    const dir = await freshDir();
    const [kept, lost] = [randomBytes(40_000), randomBytes(50_000)];
    let s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 8 * 1024 });
    await put(s, kept);
    await put(s, lost);
    await s.close();
    const files = (await readdir(path.join(dir, 'blobs'), { recursive: true, withFileTypes: true })).filter((f) =>
      f.isFile(),
    );
    const lostFile = files.find((f) => f.name.startsWith(slotOf(casKey(digestOf(lost).hash)).toString('hex')))!;
    await rm(path.join(lostFile.parentPath, lostFile.name));
    s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 8 * 1024 });
    try {
      assert.deepEqual(await holds(s, [kept, lost]), [true, false]);
      assert.equal(await s.get(casKey(digestOf(lost).hash)), undefined);
      assert.equal(s.recovery.danglingEntriesDropped, 1);
      assert.equal(s.usage().entries, 1);
    } finally {
      await s.close();
    }
  });

  it('cleans upload debris at start and refuses a second owner of the directory', async () => {
    const dir = await freshDir();
    const s = await openDiskStore({ dir, maxBytes: 0 });
    await writeFile(path.join(dir, 'tmp', 'half-written-upload'), 'partial');
    await assert.rejects(openDiskStore({ dir, maxBytes: 0 }), (e) => isHoardError(e, 'unavailable'));
    await s.close();
    const again = await openDiskStore({ dir, maxBytes: 0 });
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    await again.close();
  });

  it('counts an own file put without a declared size against the bound', async () => {
    const maxBytes = 262_144;
    const s = await openDiskStore({ dir: await freshDir(), maxBytes });
    try {
      for (const name of ['first', 'second']) {
        const data = randomBytes(200_000);
        async function* streamed() {
          yield data.subarray(0, 100_000);
          yield data.subarray(100_000);
        }
        await s
          .put(rawKey(name), streamed())
          .catch((e: unknown) => assert.ok(isHoardError(e, 'insufficient_storage'), String(e)));
        assert.ok(s.usage().bytes <= maxBytes, `usage ${s.usage().bytes} after ${name} within ${maxBytes}`);
      }
      assert.equal(s.usage().evictions, 1, 'the first value made room for the second');
      assert.equal((await s.getBytes(rawKey('second')))?.length, 200_000);
    } finally {
      await s.close();
    }
  });

  it('packs a small value given in memory without a declared size into a segment, not a file of its own', async () => {
    const dir = await freshDir();
    const s = await openDiskStore({ dir, maxBytes: 0 });
    try {
      await s.put(acKey('d'.repeat(64)), Buffer.from('an ActionResult from UpdateActionResult'));
      const files = await readdir(path.join(dir, 'blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
      assert.deepEqual(
        files.filter((f) => f.isFile()).map((f) => f.name),
        [],
      );
      assert.equal((await s.getBytes(acKey('d'.repeat(64))))?.toString(), 'an ActionResult from UpdateActionResult');
    } finally {
      await s.close();
    }
  });

  it('records a crc32 for AC and raw entries only (a CAS entry is verified by its hash)', async () => {
    const dir = await freshDir();
    const s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 8 * 1024 });
    const values = {
      smallCas: randomBytes(100),
      largeCas: randomBytes(20_000),
      smallRaw: randomBytes(100),
      largeRaw: randomBytes(20_000),
    };
    await put(s, values.smallCas);
    await put(s, values.largeCas);
    await s.put(rawKey('small'), values.smallRaw, { size: 100 });
    await s.put(rawKey('large'), values.largeRaw, { size: 20_000 });
    await s.close();
    const crcs = scanJournal(await readFile(path.join(dir, 'journal'))).records.map((r) =>
      r.op === Op.Put ? r.dataCrc : undefined,
    );
    assert.deepEqual(crcs, [0, 0, crc32(values.smallRaw), crc32(values.largeRaw)]);
  });

  it('stays within its bound when a delete comes to a full store (its journal record needs room too)', async () => {
    // Found by the model test on CI: a delete's record was appended without making room.
    const dir = await freshDir();
    const values = [0, 1, 2, 3].map(() => randomBytes(3000));
    let s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 8 * 1024, segmentBytes: 16 * 1024 });
    for (const [i, v] of values.entries()) await s.put(rawKey(`k${i}`), v, { size: v.length });
    await s.close();
    // One byte of room left: less than a delete record.
    s = await openDiskStore({ dir, maxBytes: 0 });
    const maxBytes = s.usage().bytes + 1;
    await s.close();
    s = await openDiskStore({ dir, maxBytes, smallEntryBytes: 8 * 1024, segmentBytes: 16 * 1024 });
    try {
      assert.equal(s.usage().bytes, maxBytes - 1);
      assert.equal(await s.delete(rawKey('k1')), true);
      assert.ok(s.usage().bytes <= maxBytes, `usage ${s.usage().bytes} after the delete within ${maxBytes}`);
      assert.equal(await s.getBytes(rawKey('k1')), undefined);
    } finally {
      await s.close();
    }
  });

  it('stays within its bound under churn, compacting segments, and serves only whole blobs', async () => {
    const dir = await freshDir();
    const opts = { dir, maxBytes: 256 * 1024, smallEntryBytes: 8 * 1024, segmentBytes: 16 * 1024 };
    let s = await openDiskStore(opts);
    const written: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      const data = randomBytes(100 + ((i * 7919) % 12_000));
      written.push(data);
      await put(s, data);
      if (i % 3 === 0) await s.has([casKey(digestOf(written[i >> 1]!).hash)]); // keep some old ones hot
      assert.ok(s.usage().bytes <= opts.maxBytes, `usage ${s.usage().bytes} after put ${i}`);
    }
    assert.ok(s.usage().evictions > 0);
    const check = async (store: DiskStore) => {
      let present = 0;
      for (const data of written) {
        const bytes = await store.getBytes(casKey(digestOf(data).hash));
        if (bytes) {
          present++;
          assert.deepEqual(bytes, data);
        }
      }
      return present;
    };
    const before = await check(s);
    assert.ok(before > 10, `${before} blobs kept`);
    await s.close();
    s = await openDiskStore(opts);
    try {
      assert.equal(await check(s), before, 'a restart keeps exactly what was there');
      assert.ok(s.usage().bytes <= opts.maxBytes);
    } finally {
      await s.close();
    }
  });
});

describe('DiskStore in-place reads', () => {
  it('an in-place read of a segment entry keeps its bytes while the entry is evicted and its segment removed', async () => {
    const opts = {
      dir: await freshDir(),
      maxBytes: 1024 * 1024,
      smallEntryBytes: 256 * 1024,
      segmentBytes: 512 * 1024,
    };
    const s = await openDiskStore(opts);
    try {
      const first = randomBytes(100_000);
      await s.put(casKey(digestOf(first).hash), first, { size: first.length });
      const entry = (await s.get(casKey(digestOf(first).hash), { offset: 10, inPlace: true }))!;
      assert.ok(entry.file?.span, 'a segment entry over the read cache size is answered in place');
      assert.equal(entry.file.span.length, first.length - 10);
      // Enough churn to evict the entry and retire the segment it was in.
      for (let i = 0; i < 40; i++) {
        const data = randomBytes(100_000);
        await s.put(casKey(digestOf(data).hash), data, { size: data.length });
      }
      assert.deepEqual(await s.has([casKey(digestOf(first).hash)]), [false], 'evicted meanwhile');
      const read = Buffer.alloc(first.length - 10);
      let at = 0;
      for (let n; (n = await entry.file.read(read.subarray(at), at)) > 0;) at += n;
      assert.equal(at, first.length - 10);
      assert.deepEqual(read, first.subarray(10), 'the pinned segment still held the bytes');
      await entry.file.close();
    } finally {
      await s.close();
    }
  });
});

describe('DiskStore packed digests', () => {
  it('hasDigests answers as has does: present, absent, another size, the empty blob', async () => {
    const s = await openDiskStore({ dir: await freshDir(), maxBytes: 0 });
    try {
      const blobs = [randomBytes(100), randomBytes(50_000)];
      for (const b of blobs) await s.put(casKey(digestOf(b).hash), b, { size: b.length });
      const absent = randomBytes(10);
      const asked = [blobs[0]!, blobs[1]!, absent, blobs[0]!, Buffer.alloc(0), Buffer.alloc(0)];
      const sizes = [100, 50_000, 10, 99, 0, 5];
      const digests = Buffer.concat(asked.map((b) => Buffer.from(digestOf(b).hash, 'hex')));
      const keys = asked.map((b) => casKey(digestOf(b).hash));
      const expected = [true, true, false, false, true, false];
      assert.deepEqual(await s.has(keys, sizes), expected);
      assert.deepEqual([...(await s.hasDigests!(digests, Float64Array.from(sizes)))], expected.map(Number));
      assert.deepEqual([...(await s.hasDigests!(digests))], [1, 1, 0, 1, 1, 1], 'without sizes, any size');
    } finally {
      await s.close();
    }
  });
});

describe('DiskStore read cache coherence', () => {
  it('serves the new bytes after a cached small value is replaced by one too big to cache', async () => {
    const s = await openDiskStore({ dir: await freshDir(), maxBytes: 0 });
    try {
      const small = randomBytes(1_000);
      const big = randomBytes(100_000); // a segment entry, over the cache's 64 KiB per entry
      await s.put(rawKey('replaced'), small, { size: small.length });
      assert.ok((await s.getBytes(rawKey('replaced')))?.equals(small)); // now cached
      await s.put(rawKey('replaced'), big, { size: big.length });
      // (equals, not deepEqual: a failing deepEqual of 100 kB buffers spends minutes on its diff)
      assert.ok((await s.getBytes(rawKey('replaced')))?.equals(big), 'the new value, not the cached old one');
    } finally {
      await s.close();
    }
  });

  it('does not cache a read whose entry was replaced while the read was in flight, and the read survives its segment going', async () => {
    const dir = await freshDir();
    const old = randomBytes(1_000);
    let s = await openDiskStore({ dir, maxBytes: 0 });
    await s.put(rawKey('raced'), old, { size: old.length });
    await s.close();
    const oldSegment = (await readdir(path.join(dir, 'segments'))).sort()[0]!;
    // Hold the first read of the old segment: the segment's own read, after it pinned the
    // segment, where a slow disk really makes a read wait.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held!: () => void;
    const reading = new Promise<void>((r) => (held = r));
    const openFile: OpenFile = async (p, flags) => {
      const fh = await open(p, flags);
      if (path.basename(p) === oldSegment) {
        const read = fh.read.bind(fh) as (...args: unknown[]) => Promise<unknown>;
        let first = true;
        (fh as unknown as { read: (...args: unknown[]) => Promise<unknown> }).read = async (...args: unknown[]) => {
          if (first) {
            first = false;
            held();
            await gate;
          }
          return read(...args);
        };
      }
      return fh;
    };
    s = await openDiskStore({ dir, maxBytes: 0, openFile }); // an empty cache, and a new active segment
    try {
      const slow = s.getBytes(rawKey('raced')); // reads the old value, held at the gate
      await reading;
      const fresh = randomBytes(100_000);
      await s.put(rawKey('raced'), fresh, { size: fresh.length });
      // The replacement emptied the old segment: the commit removes it while the read waits.
      for (let i = 0; i < 100 && (await readdir(path.join(dir, 'segments'))).includes(oldSegment); i++) await sleep(5);
      assert.ok(
        !(await readdir(path.join(dir, 'segments'))).includes(oldSegment),
        'the old segment was removed during the read',
      );
      release();
      assert.ok((await slow)?.equals(old), 'a read that started before the replacement sees the old value');
      assert.ok((await s.getBytes(rawKey('raced')))?.equals(fresh), 'and does not leave it in the cache');
    } finally {
      release();
      await s.close();
    }
  });
});

describe('DiskStore journal rewrite while running', () => {
  const value = (k: number, round: number) => Buffer.from(`key ${k} round ${round} `.repeat(8));
  async function overwriteRounds(s: DiskStore, keys: number, rounds: number): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      await Promise.all(
        Array.from({ length: keys }, (_, k) => s.put(rawKey(`k${k}`), value(k, r), { size: value(k, r).length })),
      );
    }
  }
  async function assertLatest(s: DiskStore, keys: number, round: number): Promise<void> {
    for (let k = 0; k < keys; k++) assert.deepEqual(await s.getBytes(rawKey(`k${k}`)), value(k, round), `k${k}`);
  }

  it('rewrites the journal once overwrites pile up, and a restart reads the rewritten one', async () => {
    const dir = await freshDir();
    const s = await openDiskStore({ dir, maxBytes: 0, journalCompactionSlack: 50 });
    await overwriteRounds(s, 20, 10); // 200 put records for 20 entries: over 2 x 20 + 50
    const records = scanJournal(await readFile(path.join(dir, 'journal'))).records.length;
    assert.ok(records < 90, `the journal holds ${records} records, not ~200: it was rewritten`);
    await assertLatest(s, 20, 9);
    await s.close();
    const again = await openDiskStore({ dir, maxBytes: 0, journalCompactionSlack: 50 });
    assert.equal(again.usage().entries, 20);
    await assertLatest(again, 20, 9);
    await again.close();
  });

  it('a rewrite that fails leaves the old journal in use: later puts succeed and survive a restart', async () => {
    const dir = await freshDir();
    const s = await openDiskStore({ dir, maxBytes: 0, journalCompactionSlack: 50 });
    // The rewrite's new file cannot be created: a directory holds its name.
    await mkdir(path.join(dir, 'journal.new'));
    await overwriteRounds(s, 20, 10);
    await assertLatest(s, 20, 9);
    const journalRecords = async () => scanJournal(await readFile(path.join(dir, 'journal'))).records.length;
    assert.ok((await journalRecords()) >= 200, 'the rewrite was tried and failed: the old journal holds every record');
    // Once it can succeed, the next try comes after another slack's worth of records.
    await rm(path.join(dir, 'journal.new'), { recursive: true });
    await overwriteRounds(s, 20, 4);
    assert.ok((await journalRecords()) < 90, 'and a later rewrite succeeds');
    await assertLatest(s, 20, 3);
    await s.close();
    const again = await openDiskStore({ dir, maxBytes: 0 });
    assert.equal(again.usage().entries, 20);
    await assertLatest(again, 20, 3);
    await again.close();
  });
});

describe('DiskStore rule 1: order and leftovers', () => {
  it('a rejected large put leaves no temp file behind', async () => {
    const dir = await freshDir();
    const s = await openDiskStore({ dir, maxBytes: 0, smallEntryBytes: 32 * 1024 });
    const big = randomBytes(300_000);
    const d = digestOf(big);
    await assert.rejects(s.put(casKey(d.hash), randomBytes(300_000), { size: d.sizeBytes }), (e) =>
      isHoardError(e, 'digest_mismatch'),
    );
    await assert.rejects(s.put(casKey(d.hash), big.subarray(0, 200_000), { size: d.sizeBytes }), (e) =>
      isHoardError(e, 'size_mismatch'),
    );
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    await s.close();
  });

  it('a journal append that fails part-way is cut off, so later acknowledged puts survive a reopen (rule 2)', async () => {
    const { s, commits, put, reopen } = await openTestStore({ maxBytes: 0 });
    const [a, b, c] = [randomBytes(500), randomBytes(500), randomBytes(500)];
    await put(a);
    // The commit of b: its data goes through, the journal gets 10 bytes of its record (on
    // the worker, for real) and then the disk fails.
    await rejectedByFailedCommit(commits, () => put(b), 'journal-write', 'EIO: i/o error, write', 10);
    await put(c); // acknowledged
    await s.close();
    const again = await reopen();
    assert.deepEqual(await holds(again, [a, b, c]), [true, false, true]);
    await again.close();
  });

  it('a commit the disk refuses for lack of space is cut back, room is made, and it is committed again', async () => {
    // The real full disk is in test/integration/disk-full.test.ts; this pins the retry and
    // that the torn bytes of the refused append are cut before the next one.
    const { s, commits, put, reopen } = await openTestStore({ maxBytes: 0 });
    const [a, b, c] = [randomBytes(500), randomBytes(500), randomBytes(500)];
    await put(a);
    failNextCommit(commits, 'journal-write', 'ENOSPC: no space left on device', 10);
    await put(b); // refused once, then committed
    assert.equal(commits.queued.length, 0, 'the failure was used');
    assert.ok(s.usage().effectiveMaxBytes > 0, 'an unbounded store is bounded by its file system once it was full');
    await put(c);
    await s.close();
    const again = await reopen();
    assert.deepEqual(await holds(again, [a, b, c]), [true, true, true]);
    assert.equal(again.recovery.tornBytesCut, 0);
    await again.close();
  });

  it('when a failed journal append cannot be cut back off either, the store takes no more writes (rule 2)', async () => {
    // The cut fails too: the journal handle's truncate is what the store uses for it.
    let failTruncate = false;
    const openFile: OpenFile = async (p, flags) => {
      const fh = await open(p, flags);
      if (path.basename(p) === 'journal') {
        const truncate = fh.truncate.bind(fh);
        fh.truncate = (len?: number) =>
          failTruncate
            ? Promise.reject(Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' }))
            : truncate(len);
      }
      return fh;
    };
    const { s, commits, put, reopen } = await openTestStore({ maxBytes: 0, openFile });
    const [a, b, c] = [randomBytes(500), randomBytes(500), randomBytes(500)];
    await put(a);
    const undo = failNextCommit(commits, 'journal-write', 'EIO: i/o error', 10);
    failTruncate = true;
    try {
      await assert.rejects(put(b), /EIO/);
    } finally {
      undo();
      failTruncate = false;
    }
    // Records appended after the torn bytes would be lost at the next open: refused instead.
    await assert.rejects(
      put(c),
      (e) => isHoardError(e, 'unavailable') && /restart the server/.test((e as Error).message),
    );
    await s.close();
    const again = await reopen();
    assert.deepEqual(await holds(again, [a, b, c]), [true, false, false]);
    assert.equal(again.recovery.tornBytesCut, 10, 'the torn bytes were cut at the open');
    await again.close();
  });

  it('bytes a failed commit placed count as dead space, so their segment is still retired', async () => {
    const { s, commits, put, segments, settledSegments } = await openTestStore({
      maxBytes: 0,
      durability: 'none',
      segmentBytes: 1000,
    });
    await put(randomBytes(600)); // fills the first segment
    await rejectedByFailedCommit(commits, () => put(randomBytes(600)), 'data', 'EIO: i/o error, write'); // placed in a new segment, never published
    const c = randomBytes(300);
    await put(c); // the only live entry of that segment
    const before = await segments();
    await put(randomBytes(600)); // rolls: the segment is no longer the active one
    assert.ok(await s.delete(casKey(digestOf(c).hash)));
    const after = await settledSegments((names) => names.length === before.length);
    assert.equal(
      after.length,
      before.length,
      `the emptied segment was removed (before ${before.join(' ')}, after ${after.join(' ')})`,
    );
    await s.close();
  });

  it('a commit that fails before writing (a segment roll) takes back the live count of what it had placed', async () => {
    let rollFails = false;
    const { s, commits, put, segments, settledSegments } = await openTestStore({
      maxBytes: 0,
      durability: 'none',
      segmentBytes: 1000,
      openSegment: (dir, id, create) =>
        rollFails
          ? Promise.reject(Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' }))
          : Segment.open(dir, id, create),
    });
    const [x, w] = [randomBytes(300), randomBytes(10)];
    await put(x);
    const [first] = await segments();
    // Holds the next commit so that y and z queue up behind it and commit together.
    const release = holdNextCommit(commits);
    const held = put(w);
    await sleep(20);
    // y fits beside x and is placed; z needs a new segment, whose open fails.
    const [y, z] = [randomBytes(300), randomBytes(600)];
    const both = [put(y), put(z)];
    await sleep(20);
    rollFails = true;
    release();
    await held;
    const results = await Promise.allSettled(both);
    rollFails = false;
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
      'y and z failed together',
    );
    await put(randomBytes(900)); // rolls: the first segment is no longer the active one
    for (const gone of [x, w]) assert.ok(await s.delete(casKey(digestOf(gone).hash)));
    const now = await settledSegments((names) => !names.includes(first!));
    assert.ok(
      !now.includes(first!),
      `the first segment, empty but for y's phantom bytes, was removed (${now.join(' ')})`,
    );
    await s.close();
  });

  /**
   * A store with a alone in its first segment and b in the second, where putting c evicts a
   * (the index forgets it) and then fails at `failedAt`.
   */
  async function evictionInFailedCommit(failedAt: CommitStep, message: string) {
    const { s, commits, put, segments, settledSegments, reopen } = await openTestStore({
      maxBytes: 1700,
      durability: 'none',
      segmentBytes: 1000,
    });
    const [a, b, c] = [randomBytes(600), randomBytes(600), randomBytes(600)];
    await put(a);
    await put(b);
    const [first] = await segments();
    await rejectedByFailedCommit(commits, () => put(c), failedAt, message);
    assert.equal(s.usage().evictions, 1, 'the failed commit chose a as its eviction');
    assert.deepEqual(await holds(s, [a]), [false]);
    return { s, put, settledSegments, first: first!, reopen, blobs: [a, b, c] };
  }

  it("a failed commit's evictions are journaled by the next commit: they stay evicted after a reopen, their bytes go", async () => {
    const { s, put, settledSegments, first, reopen, blobs } = await evictionInFailedCommit(
      'data',
      'EIO: i/o error, write',
    );
    const d = randomBytes(10);
    await put(d); // the next commit journals a's eviction and removes its segment
    const now = await settledSegments((names) => !names.includes(first));
    assert.ok(!now.includes(first), `a's emptied segment ${first} was removed (${now.join(' ')})`);
    await s.close();
    const again = await reopen();
    assert.deepEqual(
      await holds(again, [...blobs, d]),
      [false, true, false, true],
      'a stayed evicted across the reopen',
    );
    await again.close();
  });

  it("a failed commit's evictions are journaled at close when no commit follows", async () => {
    const { s, reopen, blobs } = await evictionInFailedCommit('journal-sync', 'EIO: i/o error, fdatasync');
    await s.close();
    const again = await reopen();
    assert.deepEqual(await holds(again, blobs), [false, true, false]);
    await again.close();
  });

  it("a compaction victim emptied by a failed commit's evictions is removed with them, not left for compaction", async () => {
    const { s, commits, put, segments, settledSegments, reopen } = await openTestStore({
      maxBytes: 16_000,
      durability: 'none',
      segmentBytes: 10_000,
    });
    const [e, f, g] = [randomBytes(3000), randomBytes(6000), randomBytes(6000)];
    await put(e);
    await put(f);
    const [victim] = await segments();
    assert.ok(await s.delete(casKey(digestOf(f).hash))); // the victim: e live, 6000 bytes dead
    await put(g); // rolls: the victim is no longer the active segment
    const release = holdNextCommit(commits);
    const held = put(randomBytes(10));
    await sleep(20);
    // One batch: p1's room compacts the victim (e copied forward); p2's evicts e, the LRU
    // tail, which leaves the victim with nothing live. Then the commit fails.
    const batch = [put(randomBytes(2000)), put(randomBytes(4100))];
    await sleep(20);
    const undo = failNextCommit(commits, 'data', 'EIO: i/o error, write');
    try {
      release();
      await held;
      assert.deepEqual(
        (await Promise.allSettled(batch)).map((r) => r.status),
        ['rejected', 'rejected'],
      );
    } finally {
      undo();
    }
    assert.ok(s.usage().evictions >= 1, 'the failed commit evicted e');
    await put(randomBytes(10)); // journals the evictions, then removes what they emptied
    const now = await settledSegments((names) => !names.includes(victim!));
    assert.ok(!now.includes(victim!), `the emptied victim ${victim} was removed (${now.join(' ')})`);
    await s.close();
    const again = await reopen();
    assert.deepEqual(await holds(again, [e]), [false], 'e stayed evicted');
    await again.close();
  });

  it(
    'a commit worker lost mid-job fails that commit only: the next one runs on a new worker, and a reopen agrees',
    { timeout: 10_000 },
    async () => {
      const workers: Worker[] = [];
      const startWorker = () => {
        const worker = startCommitWorker();
        workers.push(worker);
        return worker;
      };
      const { s, put, reopen } = await openTestStore({
        maxBytes: 0,
        commitRunner: () => new CommitSyncer(startWorker),
      });
      const [a, b, c] = [randomBytes(500), randomBytes(500), randomBytes(500)];
      await put(a); // started the store's worker
      // That worker is terminated as the next job reaches it (its thread dies: 'exit', not a reply).
      const worker = workers[0]!;
      worker.postMessage = () => void worker.terminate();
      await assert.rejects(put(b), /commit worker exited/);
      await put(c);
      assert.deepEqual(await holds(s, [a, b, c]), [true, false, true]);
      await s.close();
      const again = await reopen();
      assert.deepEqual(await holds(again, [a, b, c]), [true, false, true]);
      assert.ok((await again.getBytes(casKey(digestOf(c).hash)))!.equals(c));
      await again.close();
    },
  );

  it('one commit writes at most 32 MiB of segment data, however many puts are queued', async () => {
    const { s, commits, put } = await openTestStore({ maxBytes: 0, durability: 'none' });
    const blobs = Array.from({ length: 80 }, () => randomBytes(1_000_000));
    const requests = await commitsDuring(commits, () => Promise.all(blobs.map(put)));
    const sizes = requests.map((r) =>
      r.writes.reduce((n, w) => n + w.buffers.reduce((m, b) => m + b.byteLength, 0), 0),
    );
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      80 * 1_000_000,
      'every entry was written',
    );
    assert.ok(Math.max(...sizes) <= 32 * 1024 * 1024, `commits of ${sizes.join(', ')} bytes`);
    assert.ok(sizes.filter((n) => n > 16 * 1024 * 1024).length > 0, `the queue built up: ${sizes.join(', ')}`);
    await s.close();
  });

  it('a commit syncs the segment of every entry it writes before the journal names it (rule 1)', async () => {
    // commit-job.spec.ts pins the order inside a job (data, data sync, journal, journal
    // sync); this pins that the store asks for it: every segment written is synced.
    const { dir, s, commits, put } = await openTestStore({ maxBytes: 0, durability: 'fsync' });
    const blobs = Array.from({ length: 20 }, () => randomBytes(5_000));
    const requests = await commitsDuring(commits, () => Promise.all(blobs.map(put)));
    const written = requests.flatMap((r) => r.writes);
    assert.equal(written.length, blobs.length, 'every entry was written by a commit');
    for (const r of requests) {
      assert.ok(r.syncJournal);
      for (const w of r.writes) assert.ok(r.syncFds.includes(w.fd), `fd ${w.fd} written and synced`);
    }
    const { records } = scanJournal(await readFile(path.join(dir, 'journal')));
    assert.equal(records.filter((r) => r.op === Op.Put).length, blobs.length, 'and the journal names them afterwards');
    await s.close();
  });
});
