// Connection lifetime: an idle connection is closed with a GOAWAY and the client's next
// call reconnects cleanly; a slow upload that keeps a call open is never cut for idleness.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blob, chunks, openWrite, readAll, readName, startHarness, unary, uploadName } from './reapi-harness.ts';

test('idle connections get a GOAWAY and the next call reconnects; a slow upload is not cut', async () => {
  const h = await startHarness({ connectionIdleMs: 150, keepaliveMs: 100 });
  try {
    await unary(h.caps, 'GetCapabilities', {});
    await new Promise((r) => setTimeout(r, 400)); // idle past the bound: the server sends GOAWAY
    for (let i = 0; i < 3; i++) await unary(h.caps, 'GetCapabilities', {});

    const data = blob(200_000, 51);
    const msgs = [...chunks(uploadName(data), data)];
    const w = openWrite(h.bs);
    for (const [i, m] of msgs.entries()) {
      w.call.write(m);
      if (i === 3) await new Promise((r) => setTimeout(r, 400)); // longer than the idle bound
    }
    w.call.end();
    assert.equal(await w.result, data.byteLength);
    assert.ok((await readAll(h.bs, readName(data))).equals(data));
  } finally {
    await h.close();
  }
});
