import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, open, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { digestOf } from '../../core/digest.ts';
import { casKey, rawKey } from '../../core/keys.ts';
import { openDiskStore } from './disk-store.ts';
import { NO_BYTES } from './entry-index.ts';
import { fsckDiskStore } from './fsck.ts';
import { encodePut, seal, setLocation } from './journal.ts';
import { slotOf } from './slot.ts';

test('fsck finds corrupt and missing entries, quarantines, reconciles, and is clean afterwards', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-fsck-'));
  try {
    const small = [randomBytes(1000), randomBytes(2000), randomBytes(3000)];
    const large = [randomBytes(100_000), randomBytes(120_000)];
    const opts = { dir, maxBytes: 0, smallEntryBytes: 64 * 1024 };
    let s = await openDiskStore(opts);
    for (const b of [...small, ...large]) await s.put(casKey(digestOf(b).hash), b, { size: b.length });
    await s.put(rawKey('tool-key'), Buffer.from('opaque value'), { size: 12 });
    await s.close();

    // Flip a byte inside small[1] (second entry of the first segment), lose large[0]'s file,
    // and leave an orphan file behind as a crash would.
    const seg = path.join(dir, 'segments', (await readdir(path.join(dir, 'segments'))).sort()[0]!);
    const fh = await open(seg, 'r+');
    await fh.write(Buffer.from([small[1]![10]! ^ 0xff]), 0, 1, 1000 + 10);
    await fh.close();
    const blobDirs = await readdir(path.join(dir, 'blobs'));
    const files = (
      await Promise.all(
        blobDirs.map(async (d) =>
          (await readdir(path.join(dir, 'blobs', d))).map((f) => path.join(dir, 'blobs', d, f)),
        ),
      )
    ).flat();
    assert.equal(files.length, 2);
    const lost = files[0]!;
    await unlink(lost);
    await writeFile(path.join(dir, 'blobs', blobDirs[0]!, `${'ab'.repeat(32)}-1`), 'orphan');

    const report = await fsckDiskStore(dir);
    assert.equal(report.clean, false);
    assert.equal(report.entries, 6);
    assert.equal(report.verified, 4);
    assert.deepEqual(report.problems.map((p) => p.problem).sort(), ['corrupt', 'missing']);
    assert.equal(report.problems.find((p) => p.problem === 'corrupt')?.key.id, digestOf(small[1]!).hash);
    assert.equal(report.orphanFilesRemoved, 1);
    assert.equal((await readdir(path.join(dir, 'quarantine'))).length, 1);

    s = await openDiskStore(opts);
    const keys = [...small, ...large].map((b) => casKey(digestOf(b).hash));
    const present = await s.has(keys);
    await s.close();
    assert.deepEqual(present.slice(0, 3), [true, false, true], 'the corrupt small entry is gone');
    assert.equal(present.filter(Boolean).length, 3, 'the corrupt and the missing entries are gone, the rest stay');

    const again = await fsckDiskStore(dir);
    assert.equal(again.clean, true);
    assert.equal(again.verified, 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fsck refuses to run beside a live store', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-fsck-'));
  const s = await openDiskStore({ dir, maxBytes: 0 });
  try {
    await assert.rejects(fsckDiskStore(dir), /in use by process/);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('fsck streams large files: a corrupt one is moved to quarantine whole, the rest verify', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-fsck-'));
  try {
    const big = [randomBytes(3 * 1024 * 1024 + 5), randomBytes(2 * 1024 * 1024)];
    const opts = { dir, maxBytes: 0, smallEntryBytes: 64 * 1024 };
    let s = await openDiskStore(opts);
    for (const b of big) await s.put(casKey(digestOf(b).hash), b, { size: b.length });
    await s.put(rawKey('big-raw'), big[1]!, { size: big[1]!.length });
    await s.close();
    const blobDirs = await readdir(path.join(dir, 'blobs'));
    const files = (
      await Promise.all(
        blobDirs.map(async (d) =>
          (await readdir(path.join(dir, 'blobs', d))).map((f) => path.join(dir, 'blobs', d, f)),
        ),
      )
    ).flat();
    const victim = (await Promise.all(files.map(async (f) => ({ f, size: (await stat(f)).size })))).find(
      (x) => x.size === big[0]!.length,
    )!.f;
    const fh = await open(victim, 'r+');
    await fh.write(Buffer.from([big[0]![2_000_000]! ^ 1]), 0, 1, 2_000_000);
    await fh.close();

    const report = await fsckDiskStore(dir);
    assert.equal(report.verified, 2);
    assert.deepEqual(
      report.problems.map((p) => [p.problem, p.key.id]),
      [['corrupt', digestOf(big[0]!).hash]],
    );
    const quarantined = await readdir(path.join(dir, 'quarantine'));
    assert.equal(quarantined.length, 1);
    assert.equal(
      (await stat(path.join(dir, 'quarantine', quarantined[0]!))).size,
      big[0]!.length,
      'the whole file, moved',
    );
    s = await openDiskStore(opts);
    assert.deepEqual(await s.has(big.map((b) => casKey(digestOf(b).hash))), [false, true]);
    await s.close();
    assert.equal((await fsckDiskStore(dir)).clean, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fsck journals its removals after the intact records, so a torn tail does not cut them away', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-fsck-'));
  try {
    const blobs = [randomBytes(1000), randomBytes(2000)];
    const opts = { dir, maxBytes: 0 };
    let s = await openDiskStore(opts);
    for (const b of blobs) await s.put(casKey(digestOf(b).hash), b, { size: b.length });
    await s.close();
    // Corrupt blobs[1] in its segment; a power loss left half a record at the journal's end.
    const seg = path.join(dir, 'segments', (await readdir(path.join(dir, 'segments'))).sort()[0]!);
    const fh = await open(seg, 'r+');
    await fh.write(Buffer.from([blobs[1]![0]! ^ 0xff]), 0, 1, 1000);
    await fh.close();
    await appendFile(path.join(dir, 'journal'), Buffer.from([0x45, 0x00, 0x00, 0x00, 0x13]));

    const report = await fsckDiskStore(dir);
    assert.deepEqual(
      report.problems.map((p) => p.problem),
      ['corrupt'],
    );
    s = await openDiskStore(opts);
    try {
      const keys = blobs.map((b) => casKey(digestOf(b).hash));
      assert.deepEqual(await s.has(keys), [true, false], 'the removal of the corrupt entry survived the next open');
      assert.equal(s.recovery.tornBytesCut, 0);
    } finally {
      await s.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fsck quarantines a corrupt entry that has no bytes on disk instead of crashing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-fsck-'));
  try {
    const s = await openDiskStore({ dir, maxBytes: 0 });
    await s.close();
    // A journal record claiming a 0-byte CAS entry under a hash that is not the empty blob's.
    const key = casKey(digestOf(Buffer.from('not empty')).hash);
    const record = encodePut(slotOf(key), key, 0, 0);
    setLocation(record, NO_BYTES, 0);
    await appendFile(path.join(dir, 'journal'), seal(record));
    const report = await fsckDiskStore(dir);
    assert.deepEqual(
      report.problems.map((p) => p.problem),
      ['corrupt'],
    );
    assert.equal((await fsckDiskStore(dir)).problems.length, 0, 'removed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
