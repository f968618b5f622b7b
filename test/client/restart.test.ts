// Rule 5's idle-cut story (docs/CORRECTNESS.md#origin-idle-cut) against the real thing: `hoard serve` is stopped and started again on the same
// ports and store directory between two requests of one client. The next safe request
// succeeds on a new connection and the client reports the reconnect; while it is down,
// requests fail fast naming the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/core/digest.ts';
import { createClient } from '../../src/client/create-client.ts';
import { ClientError } from '../../src/client/client-error.ts';
import type { ClientEvent } from '../../src/client/types.ts';
import { spawnHoard } from '../helpers/spawn-server.ts';

test('rule 5, idle cut: hoard serve restarts between requests; HTTP and gRPC clients reconnect once and go on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-restart-'));
  const blob = randomBytes(50_000);
  const d = digestOf(blob);
  let server = await spawnHoard([], { dir });
  const httpPort = new URL(server.httpUrl).port;
  const grpcTarget = server.grpcTarget as string;
  const events: ClientEvent[] = [];
  const http = createClient(server.httpUrl, { onEvent: (e) => events.push(e) });
  const grpc = createClient(`grpc://${grpcTarget}`, { onEvent: (e) => events.push(e) });
  try {
    await http.put(d, blob);
    assert.ok(await grpc.has(d));
    await server.stop();

    const t0 = Date.now();
    await assert.rejects(
      http.has(d),
      (e: unknown) => e instanceof ClientError && e.kind === 'connect' && e.message.includes(`127.0.0.1:${httpPort}`),
    );
    await assert.rejects(
      grpc.has(d),
      (e: unknown) => e instanceof ClientError && e.kind === 'connect' && e.message.includes(grpcTarget),
    );
    assert.ok(Date.now() - t0 < 3000, `dead server took ${Date.now() - t0} ms to report`);

    server = await spawnHoard(['--http-address', `127.0.0.1:${httpPort}`, '--grpc-address', grpcTarget], { dir });
    const viaHttp = await http.getBytes(d);
    assert.ok(viaHttp && Buffer.from(viaHttp).equals(blob));
    const viaGrpc = await grpc.getBytes(d);
    assert.ok(viaGrpc && Buffer.from(viaGrpc).equals(blob));
    for (const scheme of ['http', 'grpc']) {
      const own = events.filter((e) => e.server.startsWith(`${scheme}:`));
      assert.equal(
        own.filter((e) => e.type === 'connect' && e.reconnect).length,
        1,
        `${scheme} reported one reconnect: ${JSON.stringify(own)}`,
      );
      assert.ok(own.filter((e) => e.type === 'retry').length <= 1, JSON.stringify(own));
    }
  } finally {
    await http.close();
    await grpc.close();
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
