// Rule 6 over a store: an action-cache entry is a hit only when every blob it
// references is present, including the files listed inside output-directory trees, and a
// hit refreshes those blobs so that eviction takes something else first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf, type Digest } from '../core/digest.ts';
import { acKey, casKey } from '../core/keys.ts';
import { protoType, REAPI } from '../core/proto.ts';
import { MemoryStore } from '../storage/memory-store.ts';
import type { Store } from '../storage/store.ts';
import { getCompleteActionResult } from './completeness.ts';

const encode = (type: string, value: object): Buffer => {
  const t = protoType(`${REAPI}.${type}`);
  return Buffer.from(t.encode(t.create(value)).finish());
};
const pb = (d: Digest) => ({ hash: d.hash, sizeBytes: d.sizeBytes });

async function putBlob(store: Store, data: Buffer): Promise<Digest> {
  const d = digestOf(data);
  await store.put(casKey(d.hash), data, { size: data.length });
  return d;
}

async function fixture(store: Store) {
  const out = await putBlob(store, Buffer.from('compiled output'));
  const stdout = await putBlob(store, Buffer.from('warnings on stdout'));
  const inTree = await putBlob(store, Buffer.from('a file inside an output directory'));
  const inSubdir = await putBlob(store, Buffer.from('a file one level deeper'));
  const childMsg = { files: [{ name: 'deep.txt', digest: pb(inSubdir) }] };
  const child = encode('Directory', childMsg);
  const tree = await putBlob(
    store,
    encode('Tree', {
      root: {
        files: [{ name: 'f.txt', digest: pb(inTree) }],
        directories: [{ name: 'sub', digest: pb(digestOf(child)) }],
      },
      children: [childMsg],
    }),
  );
  const result = encode('ActionResult', {
    outputFiles: [{ path: 'bin/out', digest: pb(out) }],
    outputDirectories: [{ path: 'gen', treeDigest: pb(tree) }],
    stdoutDigest: pb(stdout),
    exitCode: 0,
  });
  const action = 'a'.repeat(64);
  await store.put(acKey(action), result, { size: result.length });
  return { action, result, out, stdout, inTree, inSubdir, tree };
}

describe('getCompleteActionResult (rule 6)', () => {
  it('answers a hit when everything it references is present', async () => {
    const store = new MemoryStore();
    const f = await fixture(store);
    assert.deepEqual(await getCompleteActionResult(store, f.action), f.result);
  });

  for (const missing of ['out', 'stdout', 'tree', 'inTree', 'inSubdir'] as const) {
    it(`answers a miss when ${missing} is gone`, async () => {
      const store = new MemoryStore();
      const f = await fixture(store);
      await store.delete(casKey(f[missing].hash));
      assert.equal(await getCompleteActionResult(store, f.action), undefined);
    });
  }

  it('walks directory-only outputs (root directory digest, no tree)', async () => {
    const store = new MemoryStore();
    const leaf = await putBlob(store, Buffer.from('leaf'));
    const sub = encode('Directory', { files: [{ name: 'leaf', digest: pb(leaf) }] });
    const subD = await putBlob(store, sub);
    const root = await putBlob(store, encode('Directory', { directories: [{ name: 'sub', digest: pb(subD) }] }));
    const result = encode('ActionResult', {
      outputDirectories: [{ path: 'd', rootDirectoryDigest: pb(root) }],
      exitCode: 0,
    });
    await store.put(acKey('b'.repeat(64)), result, { size: result.length });
    assert.deepEqual(await getCompleteActionResult(store, 'b'.repeat(64)), result);
    await store.delete(casKey(leaf.hash));
    assert.equal(await getCompleteActionResult(store, 'b'.repeat(64)), undefined);
  });

  it('answers a miss when a reference has the right hash but another size (a digest is both)', async () => {
    const store = new MemoryStore();
    const f = await fixture(store);
    const wrong = (d: Digest) => ({ hash: d.hash, sizeBytes: d.sizeBytes + 1 });
    const dir = await putBlob(store, encode('Directory', { files: [{ name: 'out', digest: pb(f.out) }] }));
    const cases = {
      file: { outputFiles: [{ path: 'bin/out', digest: wrong(f.out) }] },
      tree: { outputDirectories: [{ path: 'gen', treeDigest: wrong(f.tree) }] },
      directory: { outputDirectories: [{ path: 'd', rootDirectoryDigest: wrong(dir) }] },
      // The same directory hash once with its size and once without: both are checked.
      'directory seen twice': {
        outputDirectories: [
          { path: 'd', rootDirectoryDigest: pb(dir) },
          { path: 'e', rootDirectoryDigest: wrong(dir) },
        ],
      },
    };
    for (const [name, fields] of Object.entries(cases)) {
      const action = digestOf(Buffer.from(name)).hash;
      const result = encode('ActionResult', { ...fields, exitCode: 0 });
      await store.put(acKey(action), result, { size: result.length });
      assert.equal(await getCompleteActionResult(store, action), undefined, `${name} of the wrong size`);
    }
  });

  it('treats a stored value that is not an ActionResult as a miss, not an error', async () => {
    const store = new MemoryStore();
    await store.put(acKey('c'.repeat(64)), Buffer.from([0xff, 0xff, 0xff]), { size: 3 });
    assert.equal(await getCompleteActionResult(store, 'c'.repeat(64)), undefined);
  });

  it('refreshes the referenced blobs, so eviction takes older blobs first', async () => {
    const probe = new MemoryStore();
    await fixture(probe);
    const store = new MemoryStore({ maxBytes: probe.usage().bytes + 150 });
    const f = await fixture(store);
    const filler = await putBlob(store, Buffer.alloc(100, 1)); // newer than the outputs
    assert.ok(await getCompleteActionResult(store, f.action)); // outputs now most recent
    await putBlob(store, Buffer.alloc(200, 2)); // forces eviction
    const [out, fill] = await store.has([casKey(f.out.hash), casKey(filler.hash)]);
    assert.equal(out, true, 'an output of the hit survives');
    assert.equal(fill, false, 'the blob not touched since goes first');
  });
});
