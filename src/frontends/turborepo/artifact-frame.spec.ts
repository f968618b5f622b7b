import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHoardError } from '../../core/errors.ts';
import { inMemoryEntry } from '../../storage/in-memory-entry.ts';
import { spanEntry } from '../../storage/file-span-entry.ts';
import type { Entry } from '../../storage/store.ts';
import { cut } from '../../../test/helpers/cut.ts';
import { discardEntry, encodeFrame, MAX_FRAME_BYTES, openArtifact, type ArtifactMetadata } from './artifact-frame.ts';

/** 'TRBA', the version byte and the u16 length: where the metadata JSON starts. */
const HEAD_BYTES_FOR_TEST = 7;
const META: ArtifactMetadata = { duration: '1234', tag: 'q2Ckt0ZkVyHMcdtoWXVfbvz+ukR1sVqGOCb/mcXjl0M=' };

async function drain(entry: Entry): Promise<Buffer> {
  if (entry.bytes !== undefined) return entry.bytes;
  if (entry.file !== undefined) {
    const out = Buffer.alloc(entry.size);
    let at = 0;
    for (let n; at < entry.size && (n = await entry.file.read(out.subarray(at), at)) > 0;) at += n;
    await entry.file.close();
    return out.subarray(0, at);
  }
  const chunks: Buffer[] = [];
  for await (const c of entry.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('bytes: metadata and artifact come back as stored, the artifact a view without the frame', async () => {
  const artifact = Buffer.from('a zstd tar, opaque to the server');
  const whole = Buffer.concat([encodeFrame(META), artifact]);
  const opened = await openArtifact(inMemoryEntry(whole.length, whole));
  assert.deepEqual(opened.metadata, META);
  assert.equal(opened.entry.size, artifact.length);
  assert.deepEqual(await drain(opened.entry), artifact);
});

test('stream: the frame is read off however the chunks fall, the rest streams unchanged', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 3000 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.record({ duration: fc.stringMatching(/^[0-9]{1,20}$/) }, { requiredKeys: [] }),
      async (bytes, points, meta) => {
        const whole = Buffer.concat([encodeFrame(meta), bytes]);
        const stream = Readable.from(cut(whole, points).filter((c) => c.length > 0));
        const opened = await openArtifact({ size: whole.length, stream });
        assert.deepEqual(opened.metadata, JSON.parse(JSON.stringify(meta)));
        assert.equal(opened.entry.size, bytes.length);
        assert.deepEqual(await drain(opened.entry), Buffer.from(bytes));
      },
    ),
  );
});

test('file: reads and span are shifted past the frame, and close reaches the store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-frame-'));
  try {
    const artifact = Buffer.alloc(700_000, 0x5a);
    artifact.write('start', 0);
    const path = join(dir, 'segment');
    const before = Buffer.from('another entry first');
    const whole = Buffer.concat([encodeFrame(META), artifact]);
    writeFileSync(path, Buffer.concat([before, whole]));
    const fd = openSync(path, 'r');
    let released = 0;
    const entry = spanEntry(whole.length, { fd, start: before.length, length: whole.length }, () => released++);
    const opened = await openArtifact(entry);
    assert.deepEqual(opened.metadata, META);
    assert.deepEqual(opened.entry.file?.span, {
      fd,
      start: before.length + whole.length - artifact.length,
      length: artifact.length,
    });
    assert.deepEqual(await drain(opened.entry), artifact);
    assert.equal(released, 1);
    closeSync(fd);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a HEAD reads a limited range: the size is still the whole artifact, and discarding releases it', async () => {
  const artifact = Buffer.alloc(100_000, 1);
  const whole = Buffer.concat([encodeFrame(META), artifact]);
  const destroyed: boolean[] = [];
  const stream = Readable.from([whole.subarray(0, MAX_FRAME_BYTES)]);
  stream.once('close', () => destroyed.push(true));
  const opened = await openArtifact({ size: whole.length, stream });
  assert.equal(opened.entry.size, artifact.length);
  discardEntry(opened.entry);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(destroyed, [true]);
});

test('an entry without a frame, shorter than its frame, or with a frame that is not JSON is Corrupt, and released', async () => {
  const notJson = encodeFrame(META);
  notJson.write('!', HEAD_BYTES_FOR_TEST);
  for (const bytes of [
    Buffer.from('not a frame at all'),
    encodeFrame(META).subarray(0, 12),
    Buffer.alloc(0),
    Buffer.concat([notJson, Buffer.from('artifact')]),
  ]) {
    let released = 0;
    await assert.rejects(openArtifact(inMemoryEntry(bytes.length, bytes, () => released++)), (e) =>
      isHoardError(e, 'corrupt'),
    );
    assert.equal(released, 1, 'a pooled buffer goes back to its pool');
    const stream = Readable.from(bytes.length === 0 ? [] : [bytes]);
    await assert.rejects(openArtifact({ size: bytes.length, stream }), (e) => isHoardError(e, 'corrupt'));
    assert.equal(stream.destroyed, true);
  }
});

test('metadata over the frame bound is refused when encoding', () => {
  assert.throws(
    () => encodeFrame({ tag: 'x'.repeat(5000) }),
    (e) => isHoardError(e, 'invalid_argument'),
  );
});
