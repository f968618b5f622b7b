// Rule 3 for gRPC on a real `hoard serve` process: on SIGTERM a ByteStream Write in flight
// finishes and gets its WriteResponse, new calls are refused, the process exits 0 and the
// blob is there after a restart; a Write still unfinished at the drain deadline is cut and
// publishes nothing. (reapi-shutdown.test.ts covers the same drain on the server object.)
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { spawnHoard } from '../helpers/spawn-server.ts';
import {
  blob,
  chunks,
  codeOf,
  openWrite,
  readAll,
  readName,
  reapiClients,
  type ReapiClients,
  sha256,
  unary,
  uploadName,
  writeMessages,
} from './reapi-harness.ts';

const QUIET = ['--log-level', 'warn', '--access-log', 'off'];

/** Starts hoard again on `dir`, runs `check` with clients of it, then stops it and removes `dir`. */
async function afterRestart(dir: string, check: (c: ReapiClients) => Promise<void>): Promise<void> {
  const again = await spawnHoard(QUIET, { dir });
  const c = reapiClients(again.grpcTarget!);
  try {
    await check(c);
  } finally {
    c.close();
    await again.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

test(
  'SIGTERM during a gRPC Write: it finishes with its response, new calls are refused, exit 0, the blob survives a restart',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoard-reapi-lifecycle-'));
    const data = blob(600_000, 71);
    const h = await spawnHoard(QUIET, { dir });
    const c = reapiClients(h.grpcTarget!);
    try {
      const msgs = [...chunks(uploadName(data), data)];
      const w = openWrite(c.bs);
      for (const m of msgs.slice(0, 15)) w.call.write(m);
      await sleep(200);
      h.signal('SIGTERM');
      await sleep(300);
      // A call started after the signal is refused (GOAWAY on this connection, no listener for a new one).
      const late = blob(1000, 72);
      assert.equal(await codeOf(writeMessages(c.bs, chunks(uploadName(late), late))), status.UNAVAILABLE);
      // The Write that was in flight completes, and is answered only once it is published.
      for (const m of msgs.slice(15)) w.call.write(m);
      w.call.end();
      assert.equal(await w.result, data.byteLength);
      assert.deepEqual(await h.exited, { code: 0, signal: null }, h.output());
    } finally {
      c.close();
      await h.dispose().catch(() => undefined);
    }
    await afterRestart(dir, async (c2) => {
      assert.ok((await readAll(c2.bs, readName(data))).equals(data), 'the drained Write is readable after a restart');
    });
  },
);

test(
  'a gRPC Write unfinished at the drain deadline is cut, exit is still 0, nothing is published',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoard-reapi-lifecycle-'));
    const data = blob(400_000, 73);
    const h = await spawnHoard([...QUIET, '--drain-timeout', '400ms'], { dir });
    const c = reapiClients(h.grpcTarget!);
    try {
      // Every byte, but no finish_write: only the client's silence keeps it open.
      const w = openWrite(c.bs);
      for (const m of chunks(uploadName(data), data, { finish: false })) w.call.write(m);
      await sleep(200);
      const t0 = Date.now();
      assert.deepEqual(await h.stop('SIGTERM'), { code: 0, signal: null }, h.output());
      assert.ok(Date.now() - t0 < 5000, 'the drain respected its deadline');
      assert.notEqual(await codeOf(w.result), status.OK);
    } finally {
      c.close();
      await h.dispose().catch(() => undefined);
    }
    await afterRestart(dir, async (c2) => {
      const missing = await unary<{ missingBlobDigests: { hash: string }[] }>(c2.cas, 'FindMissingBlobs', {
        blobDigests: [{ hash: sha256(data), sizeBytes: data.byteLength }],
      });
      assert.deepEqual(
        missing.missingBlobDigests.map((d) => d.hash),
        [sha256(data)],
        'the cut Write published nothing',
      );
    });
  },
);
