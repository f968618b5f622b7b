// Interrupted uploads (rule 3 + resumable ByteStream): a cut Write publishes nothing,
// QueryWriteStatus reports the bytes kept, and a Write resuming at that offset completes
// a blob that is verified whole. The spool is bounded in bytes and age.
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { casKey } from '../../src/core/keys.ts';
import {
  blob,
  chunks,
  codeOf,
  type Harness,
  openWrite,
  readAll,
  readName,
  sha256,
  startHarness,
  unary,
  uploadName,
  writeMessages,
} from './reapi-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ partialUploadMinBytes: 64 * 1024 });
});
after(() => h.close());

async function committed(harness: Harness, name: string): Promise<{ size: number; complete: boolean }> {
  const r = await unary<{ committedSize: unknown; complete: boolean }>(harness.bs, 'QueryWriteStatus', {
    resourceName: name,
  });
  return { size: Number(r.committedSize), complete: r.complete };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('a cancelled Write publishes nothing, reports its committed offset, and resumes to a verified blob', async () => {
  const data = blob(1024 * 1024, 21);
  const size = data.byteLength;
  const name = uploadName(data, 'ci');
  // Every byte but no finish_write: only the missing finish keeps it unpublished.
  const cut = openWrite(h.bs);
  for (const m of chunks(name, data, { finish: false })) cut.call.write(m);
  await until(async () => (await committed(h, name)).size === size, 'the server to spool every byte');
  cut.call.cancel();
  assert.equal(await codeOf(cut.result), status.CANCELLED);
  assert.deepEqual(await h.store.has([casKey(sha256(data), 'ci')]), [false], 'a cut stream never publishes');
  const kept = await committed(h, name);
  assert.deepEqual(kept, { size, complete: false });

  // Resuming past the committed size is refused and keeps the spool.
  assert.equal(
    await codeOf(writeMessages(h.bs, [{ resourceName: name, writeOffset: size + 1, finishWrite: true }])),
    status.INVALID_ARGUMENT,
  );
  assert.equal((await committed(h, name)).size, kept.size);

  // The resumed call only has to say it is finished.
  assert.equal(await writeMessages(h.bs, chunks(name, data, { offset: kept.size })), size);
  assert.ok((await readAll(h.bs, `ci/blobs/${sha256(data)}/${size}`)).equals(data));
  assert.deepEqual(await committed(h, name), { size, complete: true });
});

test('a resume from less than the committed size is accepted: the extra bytes are sent again', async () => {
  const data = blob(400_000, 28);
  const name = uploadName(data);
  await codeOf(writeMessages(h.bs, [...chunks(name, data, { finish: false })].slice(0, 10)));
  assert.equal((await committed(h, name)).size, 10 * 16384);
  assert.equal(await writeMessages(h.bs, chunks(name, data, { offset: 4 * 16384 })), data.byteLength);
  assert.ok((await readAll(h.bs, readName(data))).equals(data));
});

test('a Write half-closed before finish_write is ABORTED and can be resumed', async () => {
  const data = blob(300_000, 22);
  const name = uploadName(data);
  // Every byte: the missing finish_write alone must keep it from being published.
  assert.equal(await codeOf(writeMessages(h.bs, chunks(name, data, { finish: false }))), status.ABORTED);
  assert.deepEqual(await committed(h, name), { size: data.byteLength, complete: false });
  assert.deepEqual(await h.store.has([casKey(sha256(data))]), [false]);
  assert.equal(await writeMessages(h.bs, chunks(name, data, { offset: data.byteLength })), data.byteLength);
  assert.ok((await readAll(h.bs, readName(data))).equals(data));
});

test('a resumed upload whose whole content does not match the digest is refused and dropped', async () => {
  const good = blob(200_000, 23);
  const name = uploadName(good);
  await codeOf(writeMessages(h.bs, [...chunks(name, good, { finish: false })].slice(0, 4)));
  const bad = Buffer.from(good);
  bad[150_000] = (bad[150_000] ?? 0) ^ 1;
  assert.equal(await codeOf(writeMessages(h.bs, chunks(name, bad, { offset: 4 * 16384 }))), status.INVALID_ARGUMENT);
  assert.deepEqual(await h.store.has([casKey(sha256(good))]), [false]);
  assert.deepEqual(await committed(h, name), { size: 0, complete: false });
});

test('another upload id for the same blob starts fresh at 0', async () => {
  const data = blob(200_000, 24);
  const name = uploadName(data);
  await codeOf(writeMessages(h.bs, [...chunks(name, data, { finish: false })].slice(0, 4)));
  assert.equal((await committed(h, uploadName(data, '', randomUUID()))).size, 0);
});

test('small and compressed uploads are not spooled: QueryWriteStatus says 0', async () => {
  const small = blob(30_000, 25);
  const name = uploadName(small);
  await codeOf(writeMessages(h.bs, [...chunks(name, small, { finish: false })].slice(0, 1)));
  assert.equal((await committed(h, name)).size, 0);
  const z = `uploads/${randomUUID()}/compressed-blobs/zstd/${sha256(small)}/30000`;
  assert.equal((await committed(h, z)).size, 0);
});

test('the spool is bounded in bytes and in age', async () => {
  const tight = await startHarness({
    partialUploadMinBytes: 1,
    partialUploadMaxBytes: 100_000,
    partialUploadMaxAgeMs: 300,
  });
  try {
    const data = blob(300_000, 26);
    const name = uploadName(data);
    await codeOf(writeMessages(tight.bs, chunks(name, data, { finish: false })));
    const kept = (await committed(tight, name)).size;
    assert.ok(kept > 0 && kept <= 100_000, `kept ${kept} bytes, bound is 100000`);
    // The bytes kept still resume correctly.
    assert.equal(await writeMessages(tight.bs, chunks(name, data, { offset: kept })), data.byteLength);

    const other = blob(50_000, 27);
    const otherName = uploadName(other);
    await codeOf(writeMessages(tight.bs, chunks(otherName, other, { finish: false })));
    assert.equal((await committed(tight, otherName)).size, 50_000);
    await until(async () => (await committed(tight, otherName)).size === 0, 'the aged spool to be dropped');
  } finally {
    await tight.close();
  }
});
