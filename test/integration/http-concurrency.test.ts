// Hundreds of parallel PUTs and GETs of distinct and identical blobs over a small pool of
// keep-alive connections: every answer is exact, every byte round-trips (rule 1: readers
// see whole bytes only, concurrent uploads of one digest all succeed).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Pool } from 'undici';
import { sha256, startTestServer } from '../helpers/test-server.ts';

test('300 distinct and 100 identical parallel PUTs, then 400 parallel GETs, byte-exact', async () => {
  const s = await startTestServer();
  const pool = new Pool(s.url, { connections: 32, pipelining: 1 });
  try {
    const distinct = Array.from({ length: 300 }, (_, i) => randomBytes(1 + ((i * 7919) % 70_000)));
    const same = randomBytes(200_000);
    const puts = [...distinct, ...Array.from({ length: 100 }, () => same)].map(async (blob) => {
      const r = await pool.request({ method: 'PUT', path: `/cas/${sha256(blob)}`, body: blob });
      await r.body.dump();
      return r.statusCode;
    });
    // Readers race the uploads of the shared blob: each sees 404 or the whole blob, never a part.
    const racing = Array.from({ length: 50 }, async () => {
      const r = await pool.request({ method: 'GET', path: `/cas/${sha256(same)}` });
      const body = Buffer.from(await r.body.arrayBuffer());
      if (r.statusCode === 200) assert.ok(body.equals(same));
      else assert.equal(r.statusCode, 404);
    });
    const statuses = await Promise.all(puts);
    await Promise.all(racing);
    assert.deepEqual(new Set(statuses), new Set([200]));

    const gets = [...distinct, ...distinct.slice(0, 100), same].map(async (blob) => {
      const r = await pool.request({ method: 'GET', path: `/cas/${sha256(blob)}` });
      assert.equal(r.statusCode, 200);
      assert.equal(Number(r.headers['content-length']), blob.length);
      const body = Buffer.from(await r.body.arrayBuffer());
      assert.ok(body.equals(blob));
    });
    await Promise.all(gets);
    assert.equal(s.server.store.usage().entries, 301);
  } finally {
    await pool.close();
    await s.close();
  }
});
