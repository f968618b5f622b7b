// The refresher's bookkeeping over a recording target (the real bucket is in s3-store.spec.ts):
// what is renewed, what is only checked, and how often a key is asked about.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { casKey, keyString, type Key } from '../../core/keys.ts';
import { ObjectRefresher, type RefreshTarget } from './object-refresher.ts';

const DAY = 86_400_000;

/** Objects by key with their Last-Modified; records every request. */
class RecordingTarget implements RefreshTarget {
  readonly modified = new Map<string, number>();
  readonly asked: string[] = [];
  readonly renewed: string[] = [];
  failing = false;

  async lastModified(key: Key): Promise<number | null> {
    this.asked.push(key.id);
    if (this.failing) throw new Error('the bucket is down');
    return this.modified.get(keyString(key)) ?? null;
  }

  async renew(key: Key): Promise<void> {
    this.renewed.push(key.id);
    this.modified.set(keyString(key), Date.now());
  }
}

const key = (c: string) => casKey(c.repeat(64));

test('renews what is older than the period and only checks what is younger, once per period', async () => {
  const target = new RecordingTarget();
  target.modified.set(keyString(key('a')), Date.now() - 2 * DAY);
  target.modified.set(keyString(key('b')), Date.now() - 1000);
  const refresher = new ObjectRefresher({ target, refreshAfterMs: DAY });
  refresher.used([key('a'), key('b'), key('a')]);
  await refresher.idle();
  assert.deepEqual(target.renewed, ['a'.repeat(64)]);
  assert.deepEqual(target.asked.sort(), ['a'.repeat(64), 'b'.repeat(64)]);
  // Used again and again: neither is due before a day has passed.
  for (let i = 0; i < 100; i++) refresher.used([key('a'), key('b')]);
  await refresher.idle();
  assert.equal(target.asked.length, 2);
  assert.deepEqual(refresher.stats(), { checked: 2, renewed: 1, dropped: 0, failed: 0 });
});

test('an absent object or a failed request is asked about again only after a while', async () => {
  const target = new RecordingTarget();
  const refresher = new ObjectRefresher({ target, refreshAfterMs: DAY });
  refresher.used([key('c')]);
  await refresher.idle();
  refresher.used([key('c')]);
  await refresher.idle();
  assert.equal(target.asked.length, 1, 'absent: not asked again at once');
  target.failing = true;
  refresher.used([key('d')]);
  await refresher.idle();
  refresher.used([key('d')]);
  await refresher.idle();
  assert.equal(target.asked.length, 2);
  assert.equal(refresher.stats().failed, 1);
  assert.deepEqual(target.renewed, []);
});

test('uses beyond what the queue holds are dropped, not waited for', async () => {
  const target = new RecordingTarget();
  const refresher = new ObjectRefresher({ target, refreshAfterMs: DAY, concurrency: 1 });
  const many = Array.from({ length: 10_050 }, (_, i) => casKey(i.toString(16).padStart(64, '0')));
  refresher.used(many);
  assert.ok(refresher.stats().dropped >= 49, JSON.stringify(refresher.stats()));
  await refresher.close();
});
