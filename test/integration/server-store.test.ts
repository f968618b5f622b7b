// The store a server runs on: built from the config by createStore (the disk tier, named),
// or handed in by the embedder (here a memory tier in front of another), which the server
// then serves, reports per tier on /status and /metrics, and closes on shutdown.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isHoardError } from '../../src/core/errors.ts';
import { casKey, rawKey } from '../../src/core/keys.ts';
import { startServer } from '../../src/server/start-server.ts';
import { composeTiers, createStore } from '../../src/storage/create-store.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { rawRequest, sha256, testConfig } from '../helpers/test-server.ts';

function config(dir: string) {
  return testConfig(dir, { durability: 'fsync' });
}

test('createStore builds the disk tier from the config, named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-create-store-'));
  const store = await createStore({ dir, maxSize: 1024 * 1024, durability: 'none' });
  try {
    await store.put(rawKey('k'), Buffer.from('value'));
    assert.equal((await store.getBytes(rawKey('k')))?.toString(), 'value');
    const usage = store.usage();
    assert.deepEqual(
      usage.tiers?.map((t) => [t.name, t.kind, t.entries, t.maxBytes]),
      [['disk', 'disk', 1, 1024 * 1024]],
    );
    assert.equal(usage.entries, 1);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server serves the store it is given, reports its tiers, and closes it on shutdown', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-given-store-'));
  const fast = new MemoryStore();
  const slow = new MemoryStore();
  const store = composeTiers([
    { name: 'hot', kind: 'memory', store: fast },
    { name: 'cold', kind: 'memory', store: slow },
  ]);
  const server = await startServer(await config(dir), { store });
  try {
    assert.equal(server.store, store);
    const uploaded = Buffer.from('uploaded through the server');
    assert.equal((await rawRequest(server.httpUrl, 'PUT', `/cas/${sha256(uploaded)}`, uploaded)).status, 200);
    assert.deepEqual(await fast.has([casKey(sha256(uploaded))]), [true]);
    assert.deepEqual(await slow.has([casKey(sha256(uploaded))]), [true], 'written through to the slow tier');

    const cold = Buffer.from('only in the cold tier');
    await slow.put(casKey(sha256(cold)), cold, { size: cold.length });
    const got = await rawRequest(server.httpUrl, 'GET', `/cas/${sha256(cold)}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(cold));
    assert.deepEqual(await fast.has([casKey(sha256(cold))]), [true], 'the miss filled the hot tier');

    const st = JSON.parse((await rawRequest(server.httpUrl, 'GET', '/status')).body.toString());
    assert.equal(st.store.dir, dir);
    assert.equal(st.store.entries, 2);
    assert.deepEqual(
      st.store.tiers.map((t: { name: string; kind: string; entries: number }) => [t.name, t.kind, t.entries]),
      [
        ['hot', 'memory', 2],
        ['cold', 'memory', 2],
      ],
    );
    const metrics = (await rawRequest(server.httpUrl, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_store_entries\{tier="hot"\} 2/);
    assert.match(metrics, /hoard_store_entries\{tier="cold"\} 2/);
    assert.match(metrics, /hoard_store_errors\{tier="cold"\} 0/);
  } finally {
    await server.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  }
  await assert.rejects(fast.put(rawKey('after'), Buffer.from('x')), (e) => isHoardError(e, 'unavailable'));
  await assert.rejects(slow.put(rawKey('after'), Buffer.from('x')), (e) => isHoardError(e, 'unavailable'));
});
