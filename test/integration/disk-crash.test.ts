// Rules 1 and 2 under SIGKILL: a child writes blobs concurrently and is killed at random
// moments, 20 times on the same directory. After each kill: every acknowledged entry is
// present and byte-identical, nothing the store serves fails its digest, and every key the
// existence check reports present can be read.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { hashBytes } from '../../src/core/digest.ts';
import { casKey, rawKey, type Key } from '../../src/core/keys.ts';
import { openDiskStore } from '../../src/storage/disk/disk-store.ts';

const ROUNDS = Number(process.env.HOARD_CRASH_ROUNDS ?? 20);
const NODE = process.execPath;
const WRITER = path.join(import.meta.dirname, 'fixtures', 'crash-writer.ts');

function rawValue(id: string): Buffer {
  const seed = Buffer.from(id);
  return Buffer.concat(Array.from({ length: 1 + (seed.length % 7) * 300 }, () => seed));
}

function keyOf(kind: string, id: string): Key {
  return kind === 'cas' ? casKey(id) : rawKey(id);
}

interface RoundLog {
  tried: Set<string>;
  acked: Set<string>;
}

async function runAndKill(dir: string, round: number): Promise<RoundLog> {
  const child = spawn(NODE, [WRITER, dir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: RoundLog = { tried: new Set(), acked: new Set() };
  let pending = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!; // a line cut by the kill is not an acknowledgement
      for (const line of lines) {
        if (line === 'READY') resolve();
        const [verb, kind, id] = line.split(' ');
        if (verb === 'TRY') log.tried.add(`${kind} ${id}`);
        if (verb === 'ACK') log.acked.add(`${kind} ${id}`);
      }
    });
    child.once('exit', () => reject(new Error(`writer exited before READY: ${stderr}`)));
  });
  await ready;
  await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
  return log;
}

test(`disk store survives ${ROUNDS} SIGKILLs during concurrent writes`, { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-crash-'));
  const everAcked = new Set<string>();
  let totalAcked = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const log = await runAndKill(dir, round);
      for (const k of log.acked) everAcked.add(k);
      totalAcked += log.acked.size;

      const store = await openDiskStore({ dir, maxBytes: 0 });
      try {
        // Every acknowledged entry, from this round and all before it, is there and whole.
        for (const entry of everAcked) {
          const [kind, id] = entry.split(' ') as [string, string];
          const bytes = await store.getBytes(keyOf(kind, id));
          assert.ok(bytes, `round ${round}: acknowledged ${entry} is missing`);
          if (kind === 'cas') assert.equal(hashBytes(bytes), id, `round ${round}: ${entry} is torn`);
          else assert.deepEqual(bytes, rawValue(id), `round ${round}: ${entry} is torn`);
        }
        // Whatever was in flight: if the existence check says present, a read serves it whole.
        const inflight = [...log.tried].filter((k) => !log.acked.has(k));
        const keys = inflight.map((e) => keyOf(...(e.split(' ') as [string, string])));
        const present = await store.has(keys);
        for (let i = 0; i < keys.length; i++) {
          if (!present[i]) continue;
          const entry = await store.get(keys[i]!);
          assert.ok(entry, `round ${round}: ${inflight[i]} reported present but cannot be read`);
          const bytes = await buffer(entry.stream);
          const [kind, id] = inflight[i]!.split(' ') as [string, string];
          if (kind === 'cas') assert.equal(hashBytes(bytes), id);
          else assert.deepEqual(bytes, rawValue(id));
        }
      } finally {
        await store.close();
      }
    }
    assert.ok(totalAcked > ROUNDS * 20, `the writer made progress (${totalAcked} acknowledged puts)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
