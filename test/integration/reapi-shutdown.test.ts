// shutdown(deadline) drains (rule 3): an upload in flight when shutdown starts completes
// and is published; one still stalled at the deadline is cut and publishes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { casKey, type Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, PutOptions, PutOutcome } from '../../src/storage/store.ts';
import { blob, chunks, codeOf, openWrite, sha256, startHarness, uploadName } from './reapi-harness.ts';

/**
 * A MemoryStore that tells the test when its puts have read `n` body bytes: only then is an
 * upload in flight on the server. A sleep is no such signal: on a loaded machine the call
 * may not have reached the server yet, and a shutdown then has nothing to drain. The puts
 * reach it on the test's thread also when HOARD_WORKERS > 1 (across the store channel).
 */
class WatchedStore extends MemoryStore {
  #read = 0;
  #waiting: { bytes: number; resolve: () => void }[] = [];

  /** Resolves once the puts have read at least `bytes` body bytes in all. */
  received(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push({ bytes, resolve });
      this.#wake();
    });
  }

  override put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    return super.put(key, body instanceof Uint8Array ? this.#count(body) : this.#counted(body), options);
  }

  async *#counted(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) yield this.#count(chunk);
  }

  #count(chunk: Uint8Array): Uint8Array {
    this.#read += chunk.byteLength;
    this.#wake();
    return chunk;
  }

  #wake(): void {
    const ready = this.#waiting.filter((w) => w.bytes <= this.#read);
    this.#waiting = this.#waiting.filter((w) => w.bytes > this.#read);
    for (const w of ready) w.resolve();
  }
}

/** Waits until `store` has read `bytes` of the upload `w`; fails at once if the call ends first. */
async function inFlight(store: WatchedStore, w: ReturnType<typeof openWrite>, bytes: number): Promise<void> {
  const ended = w.result.then((n) => {
    throw new Error(`the upload ended (committed_size ${n}) before the store read ${bytes} bytes`);
  });
  await Promise.race([store.received(bytes), ended]);
}

test('an upload in flight when shutdown starts finishes and is published before the listener closes', async () => {
  const store = new WatchedStore();
  const h = await startHarness({}, store);
  const data = blob(500_000, 41);
  const msgs = [...chunks(uploadName(data), data)];
  const w = openWrite(h.bs);
  const head = msgs.slice(0, 10);
  for (const m of head) w.call.write(m);
  const headBytes = head.reduce((n, m) => n + (m.data?.byteLength ?? 0), 0);
  await inFlight(store, w, headBytes);
  let closed = false;
  const stopping = h.server.shutdown(10_000).then(() => (closed = true));
  // The upload is open on the server, so only a drain that does not wait can close the
  // listener here: this window bounds how soon that is caught, it cannot fail a good drain.
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
  const store = new WatchedStore();
  const h = await startHarness({}, store);
  const data = blob(500_000, seed);
  const w = openWrite(h.bs);
  for (const m of chunks(uploadName(data), data, { finish: false })) w.call.write(m);
  await inFlight(store, w, data.byteLength);
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
