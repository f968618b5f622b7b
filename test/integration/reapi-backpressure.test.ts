// Upload back-pressure: a Write whose store is not taking its body (a slow disk, a full
// commit queue) must stop its client at the HTTP/2 window instead of buffering the upload in
// the server. Measured on the wire, by a TCP relay that counts what the client sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { casKey } from '../../src/core/keys.ts';
import { GatedStore } from '../helpers/gated-store.ts';
import { startTcpRelay } from '../helpers/tcp-relay.ts';
import { blob, openWrite, chunks, reapiClients, sha256, startHarness, uploadName } from './reapi-harness.ts';

test('a Write whose store takes nothing holds its client at the stream window, then completes when the store reads', async () => {
  const store = new GatedStore();
  const h = await startHarness({}, store);
  const relay = await startTcpRelay(h.server.address);
  const c = reapiClients(`127.0.0.1:${relay.port}`);
  const data = blob(32 * 1024 * 1024, 81);
  try {
    const w = openWrite(c.bs);
    for (const m of chunks(uploadName(data), data, { chunk: 64 * 1024 })) w.call.write(m);
    w.call.end();
    const held = await relay.upstreamSettled();
    assert.equal(store.putsWaiting, 1, 'the put started and is waiting');
    // The stream window is 256 KiB: a server that kept reading would have taken all 32 MiB.
    assert.ok(held < 2 * 1024 * 1024, `the client sent ${held} bytes of 32 MiB while the store read none`);
    store.open();
    assert.equal(await w.result, data.byteLength);
    assert.ok(relay.sentUpstream() > data.byteLength, 'then the whole upload went through');
    assert.deepEqual(await store.has([casKey(sha256(data))]), [true]);
  } finally {
    c.close();
    relay.close();
    await h.close();
  }
});
