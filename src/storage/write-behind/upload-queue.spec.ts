import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { acKey, casKey, rawKey } from '../../core/keys.ts';
import { UploadQueue } from './upload-queue.ts';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hoard-queue-'));
  file = path.join(dir, 'queue.jsonl');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const open = (bounds: { maxEntries?: number; maxBytes?: number; sync?: boolean } = {}) =>
  UploadQueue.open({ file, maxEntries: 10_000, maxBytes: 1 << 30, sync: true, ...bounds });

test('queued keys survive a reopen in their order; completed ones do not', async () => {
  const q = await open();
  await q.enqueue(casKey('a'.repeat(64), 'main'), 10);
  await q.enqueue(acKey('b'.repeat(64)), 20);
  await q.enqueue(rawKey('nx:with/slash and space', 'team/x'), 30);
  q.complete(acKey('b'.repeat(64)));
  await q.close();

  const again = await open();
  assert.deepEqual(
    again.pending().map((p) => [p.key.keyspace, p.key.namespace, p.key.id, p.size]),
    [
      ['cas', 'main', 'a'.repeat(64), 10],
      ['raw', 'team/x', 'nx:with/slash and space', 30],
    ],
  );
  assert.equal(again.bytes, 40);
  await again.close();
});

test('a torn last line (a crash mid-write) is ignored and the queue goes on', async () => {
  const q = await open();
  await q.enqueue(casKey('c'.repeat(64)), 1);
  await q.close();
  await appendFile(file, '{"a":["cas","","dddd');
  const again = await open();
  assert.equal(again.size, 1);
  await again.enqueue(casKey('e'.repeat(64)), 2);
  await again.close();
  const third = await open();
  assert.deepEqual(
    third.pending().map((p) => p.key.id[0]),
    ['c', 'e'],
  );
  await third.close();
});

test('a key already queued is queued once', async () => {
  const q = await open();
  await q.enqueue(casKey('f'.repeat(64)), 5);
  await q.enqueue(casKey('f'.repeat(64)), 5);
  assert.equal(q.size, 1);
  assert.equal(q.bytes, 5);
  await q.close();
});

test('a second add of a key still being committed resolves only once the key is on disk (rule 3)', async () => {
  const q = await open();
  const key = casKey('e'.repeat(64));
  const first = q.enqueue(key, 7);
  let onDiskWhenSecondResolved: boolean | undefined;
  const second = q.enqueue(key, 7).then(() => {
    onDiskWhenSecondResolved = readFileSync(file, 'utf8').includes('e'.repeat(64));
  });
  await Promise.all([first, second]);
  assert.equal(onDiskWhenSecondResolved, true, 'the second put was acknowledged before its key was durable');
  await q.close();
});

test('a full queue makes enqueue wait until an entry is done (back-pressure, nothing dropped)', async () => {
  const q = await open({ maxEntries: 2 });
  await q.enqueue(casKey('1'.repeat(64)), 1);
  await q.enqueue(casKey('2'.repeat(64)), 1);
  let third = false;
  const waiting = q.enqueue(casKey('3'.repeat(64)), 1).then(() => (third = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(third, false, 'the third waits for room');
  q.complete(casKey('1'.repeat(64)));
  await waiting;
  assert.equal(q.size, 2);
  // The uploader's own additions may go over the bound.
  await q.enqueue(casKey('4'.repeat(64)), 1, { overBound: true });
  assert.equal(q.size, 3);
  await q.close();
});

test('a full queue by bytes waits too, but one entry larger than the bound still goes alone', async () => {
  const q = await open({ maxBytes: 100 });
  await q.enqueue(casKey('5'.repeat(64)), 500);
  let second = false;
  const waiting = q.enqueue(casKey('6'.repeat(64)), 1).then(() => (second = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(second, false);
  q.complete(casKey('5'.repeat(64)));
  await waiting;
  await q.close();
});

test('the file is rewritten once most of its lines are dead', async () => {
  const q = await open({ sync: false });
  await Promise.all(Array.from({ length: 6000 }, (_, i) => q.enqueue(rawKey(`k${i}`), 1)));
  for (let i = 0; i < 6000; i++) if (i !== 17) q.complete(rawKey(`k${i}`));
  await q.close();
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  assert.ok(lines.length < 100, `${lines.length} lines after the rewrite`);
  const again = await open({ sync: false });
  assert.deepEqual(
    again.pending().map((p) => p.key.id),
    ['k17'],
  );
  await again.close();
});
