// Upload back-pressure: a Write whose store is not taking its body (a slow disk, a full
// commit queue) must stop its client at the HTTP/2 window instead of buffering the upload in
// the server. Measured on the wire, by a TCP relay that counts what the client sent.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAddress } from '../../src/config/units.ts';
import { casKey, type Key } from '../../src/core/keys.ts';
import type { Body, PutOptions, PutOutcome } from '../../src/storage/store.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { blob, openWrite, chunks, reapiClients, sha256, startHarness, uploadName } from './reapi-harness.ts';

/** A MemoryStore whose puts wait for `open()` before they read a byte of their body. */
class GatedStore extends MemoryStore {
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve));
  putsWaiting = 0;

  open(): void {
    this.#open();
  }

  override async put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    this.putsWaiting++;
    await this.#gate;
    return super.put(key, body, options);
  }
}

/** A TCP relay to `target` that counts the bytes its clients send upstream. */
async function startCountingRelay(target: string): Promise<{ port: number; sent(): number; close(): void }> {
  const { host, port } = parseAddress(target);
  let sent = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(port, host);
    sockets.add(client).add(up);
    client.on('data', (c: Buffer) => (sent += c.length));
    client.pipe(up);
    up.pipe(client);
    const drop = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sent: () => sent,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('a Write whose store takes nothing holds its client at the stream window, then completes when the store reads', async () => {
  const store = new GatedStore();
  const h = await startHarness({}, store);
  const relay = await startCountingRelay(h.server.address);
  const c = reapiClients(`127.0.0.1:${relay.port}`);
  const data = blob(32 * 1024 * 1024, 81);
  try {
    const w = openWrite(c.bs);
    for (const m of chunks(uploadName(data), data, { chunk: 64 * 1024 })) w.call.write(m);
    w.call.end();
    // Until the relay's count stops moving.
    let last = -1;
    while (relay.sent() !== last) {
      last = relay.sent();
      await sleep(300);
    }
    assert.equal(store.putsWaiting, 1, 'the put started and is waiting');
    // The stream window is 256 KiB: a server that kept reading would have taken all 32 MiB.
    assert.ok(relay.sent() < 2 * 1024 * 1024, `the client sent ${relay.sent()} bytes of 32 MiB while the store read none`);
    store.open();
    assert.equal(await w.result, data.byteLength);
    assert.ok(relay.sent() > data.byteLength, 'then the whole upload went through');
    assert.deepEqual(await store.has([casKey(sha256(data))]), [true]);
  } finally {
    c.close();
    relay.close();
    await h.close();
  }
});
