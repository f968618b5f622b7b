import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { digestOf } from '../../core/digest.ts';
import { isHoardError } from '../../core/errors.ts';
import { acKey, casKey, rawKey, type Key } from '../../core/keys.ts';
import type { NamespaceUsage } from '../store.ts';
import { CommitSyncer, type CommitRequest, type CommitRunner } from './commit-syncer.ts';
import { openDiskStore, type DiskStore, type DiskStoreOptions } from './disk-store.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'hoard-quota-'));
  dirs.push(d);
  return d;
}

/** The commit worker, whose next commit a test can hold so that later puts queue up as one batch. */
class HeldCommits implements CommitRunner {
  readonly #real = new CommitSyncer();
  #gate: Promise<void> | undefined;

  hold(): () => void {
    let release!: () => void;
    this.#gate = new Promise<void>((r) => (release = r));
    return release;
  }

  async run(request: CommitRequest): Promise<void> {
    const gate = this.#gate;
    this.#gate = undefined;
    if (gate) await gate;
    return this.#real.run(request);
  }

  close(): Promise<void> {
    return this.#real.close();
  }
}

const QUOTAS = [
  { pattern: 'main', bytes: 100_000 },
  { pattern: 'pr-*', bytes: 3000 },
];

async function openStore(options: Partial<DiskStoreOptions> = {}) {
  const dir = await freshDir();
  const opts: DiskStoreOptions = { dir, maxBytes: 0, durability: 'none', namespaceQuotas: QUOTAS, ...options };
  return { dir, opts, s: await openDiskStore(opts) };
}

/** Puts `size` random bytes as a CAS blob of `namespace`; its key. */
async function putBlob(s: DiskStore, namespace: string, size: number): Promise<Key> {
  const data = randomBytes(size);
  const key = casKey(digestOf(data).hash, namespace);
  await s.put(key, data, { size });
  return key;
}

/** Which of `keys` the store holds. */
function holds(s: DiskStore, keys: readonly Key[]): Promise<boolean[]> {
  return s.has(keys);
}

function figures(s: DiskStore, namespace: string): NamespaceUsage | undefined {
  return s.namespaceUsage().find((n) => n.namespace === namespace);
}

describe('DiskStore namespace quotas', () => {
  it("evicts the namespace's own least recently used entries first, and no other namespace's", async () => {
    const { s } = await openStore();
    try {
      const main = [];
      for (let i = 0; i < 3; i++) main.push(await putBlob(s, 'main', 1000));
      const pr = [];
      for (let i = 0; i < 3; i++) pr.push(await putBlob(s, 'pr-1', 1000));
      const other = await putBlob(s, 'pr-2', 1000);
      assert.deepEqual(figures(s, 'pr-1'), { namespace: 'pr-1', bytes: 3000, entries: 3, quotaBytes: 3000 });
      // The oldest of pr-1 is read, so the second oldest is its least recently used now.
      assert.equal(await s.stat(pr[0]!), 1000);
      pr.push(await putBlob(s, 'pr-1', 1000));
      assert.deepEqual(await holds(s, pr), [true, false, true, true]);
      pr.push(await putBlob(s, 'pr-1', 2000));
      assert.deepEqual(await holds(s, pr), [false, false, false, true, true], 'as many as it takes');
      assert.deepEqual(await holds(s, [...main, other]), [true, true, true, true], 'the older main and pr-2 stay');
      assert.deepEqual(figures(s, 'pr-1'), { namespace: 'pr-1', bytes: 3000, entries: 2, quotaBytes: 3000 });
      assert.deepEqual(figures(s, 'main'), { namespace: 'main', bytes: 3000, entries: 3, quotaBytes: 100_000 });
      assert.deepEqual(figures(s, 'pr-2'), { namespace: 'pr-2', bytes: 1000, entries: 1, quotaBytes: 3000 });
      assert.equal(s.usage().evictions, 3);
    } finally {
      await s.close();
    }
  });

  it('refuses an entry larger than the whole quota with too_large naming the namespace, and stores nothing', async () => {
    const { s } = await openStore({ smallEntryBytes: 1024 });
    try {
      const kept = await putBlob(s, 'pr-1', 2000);
      const overQuota = (err: unknown) =>
        isHoardError(err, 'too_large') && /namespace "pr-1" \(3000 bytes\)/.test((err as Error).message);
      // Declared (refused before its body is read), in a segment or a file of its own.
      await assert.rejects(putBlob(s, 'pr-1', 3001), overQuota);
      // Undeclared, streamed: refused at its first byte over the quota, long before the end.
      let pulled = 0;
      async function* body() {
        for (let i = 0; i < 20; i++) {
          pulled++;
          yield randomBytes(1000);
        }
      }
      await assert.rejects(s.put(rawKey('big', 'pr-1'), body()), overQuota);
      assert.ok(pulled <= 4, `${pulled} chunks of 1000 bytes were read against a quota of 3000`);
      pulled = 0;
      await assert.rejects(s.put(acKey('a'.repeat(64), 'pr-1'), body()), overQuota);
      assert.ok(pulled <= 4, `${pulled} chunks read`);
      assert.deepEqual(await holds(s, [kept, rawKey('big', 'pr-1')]), [true, false], 'nothing evicted, nothing stored');
      assert.deepEqual(figures(s, 'pr-1'), { namespace: 'pr-1', bytes: 2000, entries: 1, quotaBytes: 3000 });
      // The same entry fits in a namespace without that quota.
      await putBlob(s, 'feature', 3001);
    } finally {
      await s.close();
    }
  });

  it('counts replaced, deleted, evicted and large entries, and rebuilds the figures at a restart', async () => {
    const { s: first, opts } = await openStore({ smallEntryBytes: 1024, maxBytes: 64 * 1024, segmentBytes: 8192 });
    let s = first;
    try {
      const ac = acKey('b'.repeat(64), 'pr-1');
      await s.put(ac, randomBytes(500));
      await s.put(ac, randomBytes(700)); // replaced: counted at its new size
      const big = await putBlob(s, 'pr-1', 1500); // a file of its own
      const gone = await putBlob(s, 'main', 800);
      await putBlob(s, 'main', 900);
      assert.equal(await s.delete(gone), true);
      const before = s.namespaceUsage();
      assert.deepEqual(before, [
        { namespace: 'pr-1', bytes: 2200, entries: 2, quotaBytes: 3000 },
        { namespace: 'main', bytes: 900, entries: 1, quotaBytes: 100_000 },
      ]);
      await s.close();
      s = await openDiskStore(opts);
      assert.deepEqual(s.namespaceUsage(), before, 'the journal rebuilds them');
      // Over the quota after the restart: the per-namespace LRU is rebuilt too.
      const next = await putBlob(s, 'pr-1', 1000);
      assert.deepEqual(await holds(s, [ac, big, next]), [false, true, true]);
      assert.deepEqual(figures(s, 'pr-1'), { namespace: 'pr-1', bytes: 2500, entries: 2, quotaBytes: 3000 });
      // The store's own bound evicts across namespaces, and the figures follow.
      for (let i = 0; i < 80; i++) await putBlob(s, 'feature', 1000);
      const listed = s.namespaceUsage();
      const sum = listed.reduce((n, x) => n + x.bytes, 0);
      const entries = listed.reduce((n, x) => n + x.entries, 0);
      assert.equal(entries, s.usage().entries, 'every entry is counted in one namespace');
      assert.ok(sum <= 64 * 1024, `${sum} bytes listed within the bound`);
      assert.equal(figures(s, 'pr-1'), undefined, 'the oldest namespace went entirely');
      await s.close();
      s = await openDiskStore(opts);
      assert.deepEqual(s.namespaceUsage(), listed);
    } finally {
      await s.close();
    }
  });

  it('holds to the quota when one commit takes several puts to the namespace: later ones wait a commit', async () => {
    const commits = new HeldCommits();
    const { s } = await openStore({ commitRunner: () => commits });
    try {
      const first = await putBlob(s, 'pr-1', 1000);
      const release = commits.hold();
      const blocker = putBlob(s, 'main', 10); // its commit is held: the puts below queue as one batch
      await new Promise((r) => setTimeout(r, 20));
      const batch = [1200, 1200, 1200, 1200].map(() => randomBytes(1200));
      const keys = batch.map((b) => casKey(digestOf(b).hash, 'pr-1'));
      const puts = batch.map((b, i) => s.put(keys[i]!, b, { size: 1200 }));
      await new Promise((r) => setTimeout(r, 20));
      release();
      await blocker;
      assert.deepEqual(await Promise.all(puts), ['created', 'created', 'created', 'created']);
      assert.deepEqual(await holds(s, [first, ...keys]), [false, false, false, true, true]);
      assert.deepEqual(figures(s, 'pr-1'), { namespace: 'pr-1', bytes: 2400, entries: 2, quotaBytes: 3000 });
    } finally {
      await s.close();
    }
  });

  it('lists the 50 largest namespaces plus up to 50 with a quota, fullest first', async () => {
    const { s } = await openStore({ namespaceQuotas: [{ pattern: 'q-*', bytes: 1000 }] });
    try {
      for (let i = 0; i < 60; i++) await putBlob(s, `big-${i}`, 200 + i);
      for (let i = 0; i < 60; i++) await putBlob(s, `q-${i}`, 10 + i);
      const listed = s.namespaceUsage();
      assert.equal(listed.length, 100);
      const names = new Set(listed.map((n) => n.namespace));
      for (let i = 10; i < 60; i++) assert.ok(names.has(`big-${i}`), `big-${i}`);
      for (let i = 10; i < 60; i++) assert.ok(names.has(`q-${i}`), `q-${i}`);
      assert.deepEqual(
        listed.map((n) => n.bytes),
        listed.map((n) => n.bytes).sort((a, b) => b - a),
        'largest first',
      );
      assert.ok(s.usage().namespaces!.length <= 100);
    } finally {
      await s.close();
    }
  });

  it('without quota rules, still counts every namespace', async () => {
    const { s } = await openStore({ namespaceQuotas: [] });
    try {
      for (let i = 0; i < 5; i++) await putBlob(s, 'pr-1', 1000);
      await putBlob(s, '', 10);
      assert.deepEqual(s.namespaceUsage(), [
        { namespace: 'pr-1', bytes: 5000, entries: 5 },
        { namespace: '', bytes: 10, entries: 1 },
      ]);
      assert.deepEqual(s.usage().namespaces, s.namespaceUsage());
    } finally {
      await s.close();
    }
  });
});
