// shutdown(deadline) drains (rule 3): an upload in flight when shutdown starts completes
// and is published; one still stalled at the deadline is cut and publishes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { casKey } from '../../src/core/keys.ts';
import { blob, chunks, codeOf, openWrite, sha256, startHarness, uploadName } from './reapi-harness.ts';

test('an upload in flight when shutdown starts finishes and is published before the listener closes', async () => {
  const h = await startHarness();
  const data = blob(500_000, 41);
  const msgs = [...chunks(uploadName(data), data)];
  const w = openWrite(h.bs);
  for (const m of msgs.slice(0, 10)) w.call.write(m);
  await new Promise((r) => setTimeout(r, 50));
  let closed = false;
  const stopping = h.server.shutdown(10_000).then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closed, false, 'shutdown waits for the in-flight upload');
  for (const m of msgs.slice(10)) w.call.write(m);
  w.call.end();
  assert.equal(await w.result, data.byteLength);
  await stopping;
  assert.deepEqual(await h.store.has([casKey(sha256(data))]), [true]);
  await h.close();
});

/** A server with an upload of every byte but no finish_write: only the missing finish keeps
 *  it unpublished (a partial body would be refused by the store's size check anyway). */
async function stalledUpload(seed: number) {
  const h = await startHarness();
  const data = blob(500_000, seed);
  const w = openWrite(h.bs);
  for (const m of chunks(uploadName(data), data, { finish: false })) w.call.write(m);
  await new Promise((r) => setTimeout(r, 100));
  return { h, data, w };
}

test('an upload still stalled at the deadline is cut and publishes nothing', async () => {
  const { h, data, w } = await stalledUpload(42);
  const t0 = performance.now();
  await h.server.shutdown(200);
  const took = performance.now() - t0;
  assert.ok(took >= 150 && took < 2000, `shutdown took ${took} ms for a 200 ms deadline`);
  assert.notEqual(await codeOf(w.result), 0);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await h.store.has([casKey(sha256(data))]), [false]);
  await h.close();
});

test('abort() during a drain cuts the stalled upload at once instead of waiting for the deadline', async () => {
  const { h, data, w } = await stalledUpload(43);
  const t0 = performance.now();
  const stopping = h.server.shutdown(30_000);
  await new Promise((r) => setTimeout(r, 50));
  h.server.abort();
  await stopping;
  const took = performance.now() - t0;
  assert.ok(took < 5000, `shutdown ended ${took} ms after it began, despite abort(): it waited for the 30 s deadline`);
  assert.notEqual(await codeOf(w.result), 0);
  assert.deepEqual(await h.store.has([casKey(sha256(data))]), [false]);
  await h.close();
});
