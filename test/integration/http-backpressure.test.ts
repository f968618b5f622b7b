// Upload back-pressure over HTTP/1.1: a PUT whose store is not taking its body (a slow disk,
// a full commit queue) must stop its client through TCP flow control instead of buffering
// the upload in the server. Measured on the wire, by a TCP relay that counts what the client
// sent; the kernel's socket buffers on both sides of the relay hold a few MiB at most.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { hashBytes } from '../../src/core/digest.ts';
import { casKey } from '../../src/core/keys.ts';
import { GatedStore } from '../helpers/gated-store.ts';
import { startHttpListenerOver } from '../helpers/http-listener-over.ts';
import { startTcpRelay } from '../helpers/tcp-relay.ts';

test(
  'a PUT whose store takes nothing holds its client at the socket buffers, then completes when the store reads',
  { timeout: 30_000 },
  async () => {
    const store = new GatedStore();
    const listener = await startHttpListenerOver(store);
    const relay = await startTcpRelay(new URL(listener.url).host);
    const data = Buffer.alloc(128 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const hash = hashBytes(data);
    try {
      const status = new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: relay.port,
            method: 'PUT',
            path: `/cas/${hash}`,
            headers: { 'content-length': String(data.length) },
            agent: false,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(data);
      });
      const held = await relay.upstreamSettled();
      assert.equal(store.putsWaiting, 1, 'the put started and is waiting');
      // A server that kept reading would have taken all 128 MiB into memory.
      assert.ok(held < 32 * 1024 * 1024, `the client sent ${held} bytes of 128 MiB while the store read none`);
      store.open();
      assert.equal(await status, 200);
      assert.ok(relay.sentUpstream() > data.length, 'then the whole upload went through');
      assert.deepEqual(await store.has([casKey(hash)]), [true]);
    } finally {
      relay.close();
      await listener.drain(Date.now());
    }
  },
);
