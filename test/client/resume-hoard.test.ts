// An interrupted ByteStream upload to a real `hoard serve` resumes from QueryWriteStatus's
// committed offset (hoard keeps partial uploads), sends the rest only, and verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/core/digest.ts';
import { createClient } from '../../src/client/create-client.ts';
import type { ClientEvent } from '../../src/client/types.ts';
import { startFaultProxy } from '../../src/check/fault-proxy.ts';
import { spawnHoard } from '../helpers/spawn-server.ts';

test('ByteStream upload to hoard serve cut after 1 MB resumes at the committed offset, not at 0', async () => {
  const server = await spawnHoard();
  const [, port] = (server.grpcTarget as string).split(':');
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: Number(port) },
    { cutAfterBytes: (c) => (c === 0 ? 1_000_000 : undefined), cutDirection: 'upstream' },
  );
  const events: ClientEvent[] = [];
  const client = createClient(proxy.url('grpc'), { onEvent: (e) => events.push(e) });
  const direct = createClient(`grpc://${server.grpcTarget}`);
  try {
    const blob = randomBytes(3_000_000);
    const d = digestOf(blob);
    await client.put(d, blob);
    assert.equal(proxy.stats.cuts, 1);
    const resume = events.find((e) => e.type === 'resume');
    assert.ok(resume && resume.type === 'resume' && resume.offset > 0, JSON.stringify(events));
    // Bytes sent in all: the first attempt's million plus the remainder, not a second full upload.
    assert.ok(
      proxy.stats.bytesUp < blob.length + 1_000_000 - resume.offset + 200_000,
      `sent ${proxy.stats.bytesUp} bytes`,
    );
    const got = await direct.getBytes(d);
    assert.ok(got && Buffer.from(got).equals(blob));
  } finally {
    await client.close();
    await direct.close();
    await proxy.close();
    await server.dispose();
  }
});
