// Rules 1 and 2 through the whole server, with its request threads (HOARD_WORKERS): a real
// `hoard serve` takes 32 concurrent uploads, half over HTTP and half over gRPC, and is
// killed with SIGKILL at a random moment, several times on the same directory. After each
// restart every upload the server acknowledged is there byte for byte, and every blob an
// existence check reports present reads back whole and matching its digest.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '../../src/client/create-client.ts';
import { digestOf, type Digest } from '../../src/core/digest.ts';
import { spawnHoard } from '../helpers/spawn-server.ts';
import { rawRequest, sha256, SUITE_WORKERS } from '../helpers/test-server.ts';

const ROUNDS = Number(process.env['HOARD_SERVER_CRASH_ROUNDS'] ?? 4);
const UPLOADERS = 32;
const QUIET = ['--log-level', 'warn', '--access-log', 'off', '--durability', 'fsync'];

test(
  `hoard serve --workers ${SUITE_WORKERS} survives ${ROUNDS} SIGKILLs under ${UPLOADERS}-way HTTP and gRPC uploads`,
  { timeout: 180_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoard-server-crash-'));
    const acked = new Map<string, Digest>();
    const tried = new Map<string, Digest>();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const h = await spawnHoard(['--workers', SUITE_WORKERS, ...QUIET], { dir });
        const clients = [h.httpUrl, `grpc://${h.grpcTarget}`].map((url) =>
          createClient(url, { retry: { retries: 0 }, concurrency: UPLOADERS, connectTimeoutMs: 2000 }),
        );
        let killed = false;
        const uploader = async (i: number): Promise<void> => {
          const client = clients[i % 2]!;
          while (!killed) {
            // Mostly small blobs, some over a megabyte (own files, streamed in many chunks).
            const size = randomInt(0, 10) === 0 ? randomInt(1 << 20, 3 << 20) : randomInt(1, 64 * 1024);
            const blob = randomBytes(size);
            const d = digestOf(blob);
            tried.set(d.hash, d);
            try {
              await client.put(d, blob);
              acked.set(d.hash, d);
            } catch {
              return; // the server died under it: unacknowledged, so it may or may not be there
            }
          }
        };
        const running = Array.from({ length: UPLOADERS }, (_, i) => uploader(i));
        await sleep(300 + randomInt(0, 700));
        killed = true;
        h.signal('SIGKILL');
        await h.exited;
        await Promise.all(running);
        await Promise.all(clients.map((c) => c.close()));
        await h.dispose();
      }

      const h = await spawnHoard(['--workers', SUITE_WORKERS, ...QUIET], { dir });
      const grpc = createClient(`grpc://${h.grpcTarget}`);
      try {
        assert.ok(acked.size > ROUNDS * UPLOADERS, `only ${acked.size} uploads were acknowledged`);
        for (const d of acked.values()) {
          const got = await rawRequest(h.httpUrl, 'GET', `/cas/${d.hash}`);
          assert.equal(got.status, 200, `acknowledged ${d.hash} (${d.sizeBytes} B) is gone`);
          assert.equal(sha256(got.body), d.hash, `acknowledged ${d.hash} reads back torn`);
        }
        // Whatever else the server reports present must read back whole, over both protocols.
        const missing = new Set((await grpc.findMissing([...tried.values()])).map((d) => d.hash));
        for (const d of tried.values()) {
          if (missing.has(d.hash)) continue;
          const head = await rawRequest(h.httpUrl, 'HEAD', `/cas/${d.hash}`);
          assert.equal(head.status, 200, `FindMissingBlobs says ${d.hash} is present, HEAD says ${head.status}`);
          const bytes = await grpc.getBytes(d);
          assert.ok(bytes !== undefined && sha256(bytes) === d.hash, `present ${d.hash} reads back torn over gRPC`);
        }
      } finally {
        await grpc.close();
        await h.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
