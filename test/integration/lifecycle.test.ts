// Rule 3 on a real process: SIGTERM drains (in-flight uploads finish, exit 0, the data is
// there after a restart), uploads still unfinished at the drain deadline are cut and leave
// nothing behind, a second signal exits at once without corrupting the store, and bad
// configuration stops start-up with a message naming the option.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawConnection } from '../helpers/raw-http.ts';
import { spawnHoard } from '../helpers/spawn-server.ts';
import { rawRequest, sha256 } from '../helpers/test-server.ts';

const QUIET = ['--log-level', 'warn', '--access-log', 'off'];

/** A store directory the test owns, so it outlives the first process (dispose() keeps it). */
function storeDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'hoard-lifecycle-'));
}

async function startUpload(url: string, blob: Buffer, sentBytes: number): Promise<RawConnection> {
  const c = await RawConnection.open(url);
  await c.writeHead('PUT', `/cas/${sha256(blob)}`, { 'content-length': blob.length });
  await c.write(blob.subarray(0, sentBytes));
  return c;
}

test('SIGTERM during uploads: they finish, the process exits 0, the blobs survive a restart', async () => {
  const dir = await storeDir();
  const h = await spawnHoard(QUIET, { dir });
  const blobs = [randomBytes(300_000), randomBytes(5_000), randomBytes(1_000_000)];
  try {
    const uploads = await Promise.all(blobs.map((b) => startUpload(h.httpUrl, b, Math.floor(b.length / 2))));
    await sleep(100);
    h.signal('SIGTERM');
    await sleep(200);
    // The listener no longer accepts new connections...
    await assert.rejects(rawRequest(h.httpUrl, 'GET', '/healthz'));
    // ...but the uploads in flight complete, told that their connection closes.
    for (const [i, c] of uploads.entries()) {
      await c.write(blobs[i]!.subarray(Math.floor(blobs[i]!.length / 2)));
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.headers['connection'], 'close');
    }
    const exit = await h.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, h.output());
  } finally {
    await h.dispose().catch(() => undefined);
  }
  const again = await spawnHoard(QUIET, { dir });
  try {
    for (const b of blobs) {
      const r = await rawRequest(again.httpUrl, 'GET', `/cas/${sha256(b)}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(b));
    }
  } finally {
    await again.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'an upload unfinished at the drain deadline is cut, exit is still 0, nothing is published',
  { timeout: 60_000 },
  async () => {
    const dir = await storeDir();
    const h = await spawnHoard([...QUIET, '--drain-timeout', '400ms'], { dir });
    const blob = randomBytes(200_000);
    try {
      const c = await startUpload(h.httpUrl, blob, 100_000);
      await sleep(100);
      const t0 = Date.now();
      const exit = await h.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, h.output());
      assert.ok(Date.now() - t0 < 5000, 'drain respected its deadline');
      await c.closed;
    } finally {
      await h.dispose().catch(() => undefined);
    }
    const again = await spawnHoard(QUIET, { dir });
    try {
      assert.equal((await rawRequest(again.httpUrl, 'GET', `/cas/${sha256(blob)}`)).status, 404);
      // And the key uploads fine now.
      assert.equal((await rawRequest(again.httpUrl, 'PUT', `/cas/${sha256(blob)}`, blob)).status, 200);
    } finally {
      await again.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('a second SIGTERM exits at once, and the store reopens intact', { timeout: 60_000 }, async () => {
  const dir = await storeDir();
  const h = await spawnHoard([...QUIET, '--drain-timeout', '60s'], { dir });
  const kept = randomBytes(50_000);
  const cut = randomBytes(400_000);
  try {
    assert.equal((await rawRequest(h.httpUrl, 'PUT', `/cas/${sha256(kept)}`, kept)).status, 200);
    const c = await startUpload(h.httpUrl, cut, 100_000);
    await sleep(100);
    h.signal('SIGTERM');
    await sleep(300);
    const t0 = Date.now();
    h.signal('SIGTERM');
    const exit = await h.exited;
    assert.ok(Date.now() - t0 < 3000, 'the second signal did not wait for the drain');
    assert.equal(exit.code, 143);
    await c.closed;
  } finally {
    await h.dispose().catch(() => undefined);
  }
  const again = await spawnHoard(QUIET, { dir });
  try {
    assert.ok((await rawRequest(again.httpUrl, 'GET', `/cas/${sha256(kept)}`)).body.equals(kept));
    assert.equal((await rawRequest(again.httpUrl, 'GET', `/cas/${sha256(cut)}`)).status, 404);
  } finally {
    await again.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid configuration stops start-up with a message naming the option and its source', async () => {
  await assert.rejects(spawnHoard(['--max-size', '5XB']), /invalid --max-size: "5XB" is not a size/);
  await assert.rejects(
    spawnHoard([], { env: { HOARD_DURABILITY: 'maybe' } }),
    /invalid HOARD_DURABILITY: "maybe" is not one of fsync, none/,
  );
  await assert.rejects(spawnHoard(['--http-address', 'nowhere']), /invalid --http-address/);
});
