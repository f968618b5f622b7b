// Progress events for transfers, over both transports (STAND-IN servers): monotonic byte
// counts that end at the blob size, for uploads and downloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/core/digest.ts';
import { createClient } from '../../src/client/create-client.ts';
import type { Progress } from '../../src/client/types.ts';
import { startStandInCache } from '../fault/broken-server.ts';
import { startGrpcStandIn } from './grpc-stand-in.ts';

function assertProgress(events: Progress[], operation: string, size: number): void {
  const mine = events.filter((p) => p.operation === operation);
  assert.ok(mine.length >= 2, `${operation}: ${mine.length} events`);
  for (let i = 1; i < mine.length; i++) assert.ok((mine[i] as Progress).bytes >= (mine[i - 1] as Progress).bytes);
  assert.equal(mine.at(-1)?.bytes, size);
  assert.ok(mine.every((p) => p.total === size));
}

test('progress events for put and get over HTTP and gRPC (stand-in servers)', async () => {
  const http = await startStandInCache();
  const grpc = await startGrpcStandIn();
  try {
    for (const url of [http.url, grpc.url]) {
      const client = createClient(url);
      const blob = randomBytes(1_000_000);
      const d = digestOf(blob);
      const events: Progress[] = [];
      await client.put(d, blob, { onProgress: (p) => events.push(p) });
      const got = await client.getBytes(d, { onProgress: (p) => events.push(p) });
      assert.ok(got && Buffer.from(got).equals(blob));
      assertProgress(events, 'cas.put', blob.length);
      assertProgress(events, 'cas.get', blob.length);
      await client.close();
    }
  } finally {
    await http.close();
    await grpc.close();
  }
});
