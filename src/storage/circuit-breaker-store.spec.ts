import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buffer } from 'node:stream/consumers';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { casKey, rawKey, type Key } from '../core/keys.ts';
import { hashBytes } from '../core/digest.ts';
import { CircuitBreakerStore } from './circuit-breaker-store.ts';
import { MemoryStore } from './memory-store.ts';
import type { Entry, ReadOptions } from './store.ts';

/** A tier that can fail, hang, or answer; counts the reads that reach it. */
class FlakyTier extends MemoryStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  reads = 0;

  async #gate(): Promise<void> {
    this.reads++;
    if (this.mode === 'fail') throw new HoardError(ErrorCode.Unavailable, 'the bucket answered 503 SlowDown');
    if (this.mode === 'hang') await new Promise(() => undefined);
  }

  override async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    await this.#gate();
    return super.has(keys, sizes);
  }

  override async get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    await this.#gate();
    return super.get(key, options);
  }

  override async getBytes(key: Key): Promise<Buffer | undefined> {
    await this.#gate();
    return super.getBytes(key);
  }

  override async stat(key: Key): Promise<number | undefined> {
    await this.#gate();
    return super.stat(key);
  }
}

const data = Buffer.from('an output in the bucket');
const key = casKey(hashBytes(data));

test('reads pass through while the tier answers', async () => {
  const tier = new FlakyTier();
  await tier.put(key, data, { size: data.length });
  const store = new CircuitBreakerStore(tier);
  assert.deepEqual(await store.has([key]), [true]);
  assert.equal(await store.stat(key), data.length);
  assert.deepEqual(await buffer((await store.get(key))!.stream), data);
  assert.deepEqual(store.usage().health, { errors: 0, available: true, lastError: undefined });
});

test('a failing tier answers misses, not errors; after a few failures it is not asked at all', async () => {
  const tier = new FlakyTier();
  await tier.put(key, data, { size: data.length });
  const changes: string[] = [];
  const store = new CircuitBreakerStore(tier, {
    failuresToOpen: 3,
    openMs: 60_000,
    onStateChange: (s) => changes.push(s),
  });
  tier.mode = 'fail';
  for (let i = 0; i < 3; i++) assert.equal(await store.getBytes(key), undefined);
  assert.equal(store.isOpen, true);
  assert.deepEqual(changes, ['open']);
  const asked = tier.reads;
  assert.deepEqual(await store.has([key, rawKey('x')]), [false, false]);
  assert.equal(await store.get(key), undefined);
  assert.equal(tier.reads, asked, 'an open breaker does not ask the tier');
  const health = store.usage().health!;
  assert.equal(health.available, false);
  assert.equal(health.errors, 3);
  assert.match(health.lastError ?? '', /503 SlowDown/);
});

test('a hanging tier answers a miss at the deadline, and a probe after the pause closes the breaker again', async () => {
  const tier = new FlakyTier();
  await tier.put(key, data, { size: data.length });
  const store = new CircuitBreakerStore(tier, { deadlineMs: 50, failuresToOpen: 1, openMs: 100 });
  tier.mode = 'hang';
  const started = Date.now();
  assert.equal(await store.stat(key), undefined);
  assert.ok(Date.now() - started < 1000, 'answered at the deadline');
  assert.equal(store.isOpen, true);
  tier.mode = 'ok';
  assert.equal(await store.stat(key), undefined, 'still open: a miss without asking');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(await store.stat(key), data.length, 'the probe got through');
  assert.equal(store.isOpen, false);
});

test('a failed probe keeps it open, for longer', async () => {
  const tier = new FlakyTier();
  const store = new CircuitBreakerStore(tier, { failuresToOpen: 1, openMs: 40 });
  tier.mode = 'fail';
  await store.has([key]);
  await new Promise((r) => setTimeout(r, 50));
  const before = tier.reads;
  await store.has([key]); // the probe, failing
  assert.equal(tier.reads, before + 1);
  await new Promise((r) => setTimeout(r, 50));
  await store.has([key]);
  assert.equal(tier.reads, before + 1, 'the pause doubled: not asked again yet');
});

test("a caller's own errors pass through and do not count against the tier", async () => {
  const tier = new FlakyTier();
  await tier.put(key, data, { size: data.length });
  const store = new CircuitBreakerStore(tier, { failuresToOpen: 1 });
  await assert.rejects(store.get(key, { offset: data.length + 5 }), (err: HoardError) => err.code === 'out_of_range');
  assert.equal(store.isOpen, false);
  assert.equal(store.usage().health?.errors, 0);
});

test('writes pass through whatever the breaker says', async () => {
  const tier = new FlakyTier();
  const store = new CircuitBreakerStore(tier, { failuresToOpen: 1 });
  tier.mode = 'fail';
  await store.has([key]);
  assert.equal(store.isOpen, true);
  assert.equal(await store.put(key, data, { size: data.length }), 'created');
  tier.mode = 'ok';
  assert.deepEqual(await tier.getBytes(key), data);
});

test('a request that got through beside the breaker (an upload) closes it: the tier is back', async () => {
  const tier = new FlakyTier();
  await tier.put(key, data, { size: data.length });
  const changes: string[] = [];
  const store = new CircuitBreakerStore(tier, {
    failuresToOpen: 2,
    openMs: 60_000,
    onStateChange: (s) => changes.push(s),
  });
  tier.mode = 'fail';
  await store.has([key]);
  await store.has([key]);
  assert.equal(store.isOpen, true);
  tier.mode = 'ok';
  const asked = tier.reads;
  assert.deepEqual(await store.has([key]), [false], 'still open: a miss without asking');
  assert.equal(tier.reads, asked);
  store.answeredElsewhere();
  assert.equal(store.isOpen, false);
  assert.equal(store.usage().health?.available, true);
  assert.deepEqual(await store.has([key]), [true], 'reads go to the tier again at once');
  assert.deepEqual(changes, ['open', 'closed']);
});

test('passes uses on to a tier that renews entries, unless open; has no refresh over a tier without one', async () => {
  assert.equal(new CircuitBreakerStore(new MemoryStore()).refresh, undefined);
  class Renewing extends FlakyTier {
    readonly used: string[] = [];
    refresh(keys: readonly Key[]): void {
      this.used.push(...keys.map((k) => k.id));
    }
  }
  const tier = new Renewing();
  const store = new CircuitBreakerStore(tier, { failuresToOpen: 1, openMs: 60_000 });
  store.refresh!([key]);
  tier.mode = 'fail';
  await store.has([key]);
  assert.equal(store.isOpen, true);
  store.refresh!([key]);
  assert.deepEqual(tier.used, [key.id]);
});
