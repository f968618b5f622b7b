import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { rawKey } from '../../core/keys.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { Collections, type Listed } from './collections.ts';
import { emptyMembers, encodePart, MAX_MEMBERS, UNKNOWN_SIZE } from './listing-part.ts';

const logger = pino({ level: 'silent' });

async function listAll(tree: Collections, path: string[]): Promise<Listed[][]> {
  const batches: Listed[][] = [];
  for await (const batch of tree.list('', path, await tree.members('', path))) batches.push(batch);
  return batches;
}

test('a listing comes in sorted batches of what the store holds, at the size it holds', async () => {
  const store = new MemoryStore();
  const tree = new Collections(store, logger, 0);
  assert.equal(await tree.create('', ['d']), true);
  const names = Array.from({ length: 2500 }, (_, i) => `f${String(i).padStart(4, '0')}`);
  // Listed the way 2,500 PUTs would list them (written at once: a PUT each rewrites the part).
  const part = emptyMembers();
  for (const name of names) {
    part.files.set(name, { size: 1, modified: 1 });
    await store.put(tree.fileKey('', ['d', name]), Buffer.from('x'));
  }
  await store.put(rawKey(`dav-ls:d#0`), encodePart(part));
  // Listed but never stored (a PUT cut or crashed after its listing), and replaced at another size.
  await tree.listFile('', ['d', 'never-stored'], 5);
  await store.put(tree.fileKey('', ['d', names[7]!]), Buffer.from('longer'));
  await store.delete(tree.fileKey('', ['d', names[9]!]));
  const batches = await listAll(tree, ['d']);
  assert.deepEqual(
    batches.map((b) => b.length),
    [999, 1000, 500],
    'batches of 1,000 names, less those the store does not hold',
  );
  const listed = batches.flat();
  assert.deepEqual(
    listed.map((m) => m.name),
    names.filter((_, i) => i !== 9),
  );
  assert.deepEqual(listed[7], {
    name: names[7],
    dir: false,
    size: 6,
    modified: (listed[7] as { modified: number }).modified,
  });
});

test('a chunked PUT is listed at an unknown size, settled to what the store holds, or dropped when nothing was stored', async () => {
  const store = new MemoryStore();
  const tree = new Collections(store, logger, 0);
  await tree.listFile('', ['a'], UNKNOWN_SIZE);
  await tree.listFile('', ['b'], UNKNOWN_SIZE);
  await store.put(tree.fileKey('', ['a']), Buffer.from('abc'));
  assert.deepEqual(
    (await listAll(tree, [])).flat().map((m) => [m.name, m.dir ? 'dir' : m.size]),
    [['a', 3]],
  );
  await tree.settleFile('', ['a']);
  await tree.settleFile('', ['b']);
  const own = await tree.members('', []);
  assert.deepEqual(
    [...own.files].map(([name, f]) => [name, f.size]),
    [['a', 3]],
  );
});

test('a full part is pruned of what the store no longer holds; a part full of stored members refuses (507)', async () => {
  const store = new MemoryStore();
  const tree = new Collections(store, logger, 0);
  const full = emptyMembers();
  for (let i = 0; i < MAX_MEMBERS; i++) full.files.set(`m${i}`, { size: 1, modified: 1 });
  const part = rawKey(`dav-ls:d#0`);
  await store.put(part, encodePart(full));
  // None of them is stored: the next member prunes them all.
  await tree.listFile('', ['d', 'new'], 1);
  assert.deepEqual([...(await tree.members('', ['d'])).files.keys()], ['new']);
  // All of them stored: nothing to prune, the part is full.
  await store.put(part, encodePart(full));
  for (const name of full.files.keys()) await store.put(tree.fileKey('', ['d', name]), Buffer.from('x'));
  await assert.rejects(
    tree.listFile('', ['d', 'one-too-many'], 1),
    (err: unknown) => err instanceof HoardError && err.code === ErrorCode.InsufficientStorage,
  );
  await tree.listFile('', ['d', 'm5'], 1);
  assert.equal((await tree.members('', ['d'])).files.size, MAX_MEMBERS, 'an existing member is still updated');
});

test('a recursive removal reaches below a collection whose marker was evicted', async () => {
  const store = new MemoryStore();
  const tree = new Collections(store, logger, 0);
  await tree.create('', ['top']);
  await tree.create('', ['top', 'mid']);
  await tree.listFile('', ['top', 'mid', 'f'], 1);
  await store.put(tree.fileKey('', ['top', 'mid', 'f']), Buffer.from('f'));
  await store.delete(rawKey('dav-dir:top/mid'));
  await tree.removeTree('', ['top']);
  assert.equal(await store.stat(tree.fileKey('', ['top', 'mid', 'f'])), undefined);
  assert.equal(await tree.kind('', ['top']), undefined);
  assert.equal(store.usage().entries, 1, 'only the root listing part is left');
});
