// Large entries go out through reused read buffers (frontends/http/send-file.ts): every
// download must still be byte-exact while others reuse those buffers, ranges must cross
// chunk boundaries correctly, and a client that goes away must not leave the file open.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

/** Downloads `path`, reading slowly (a pause every `pauseEvery` bytes) to make the server wait on the socket. */
function slowGet(url: string, path: string, headers: Record<string, string> = {}, pauseEvery = 0): Promise<Buffer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let since = 0;
      res.on('data', (c: Buffer) => {
        parts.push(c);
        since += c.length;
        if (pauseEvery > 0 && since >= pauseEvery) {
          since = 0;
          res.pause();
          setTimeout(() => res.resume(), 5);
        }
      });
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The store's blob files this process holds open. */
async function openBlobFiles(dir: string): Promise<string[]> {
  const open: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${dir}/blobs/`)) open.push(target);
  }
  return open;
}

test(
  'concurrent large downloads, slow and fast, whole and in ranges, are byte-exact',
  { timeout: 60_000 },
  async () => {
    const s = await startTestServer();
    try {
      const blobs = [
        randomBytes(5 * 1024 * 1024 + 123),
        randomBytes(9 * 1024 * 1024 + 7),
        randomBytes(3 * 1024 * 1024),
      ];
      for (const b of blobs) assert.equal((await rawRequest(s.url, 'PUT', `/cas/${sha256(b)}`, b)).status, 200);
      const jobs: Promise<void>[] = [];
      for (let round = 0; round < 3; round++) {
        for (const b of blobs) {
          const path = `/cas/${sha256(b)}`;
          jobs.push(slowGet(s.url, path, {}, round === 1 ? 256 * 1024 : 0).then((got) => assert.ok(got.equals(b))));
          // A range that starts inside the first chunk and ends inside a later one.
          const start = 1024 * 1024 - 5;
          const end = b.length - 3 - round;
          jobs.push(
            slowGet(s.url, path, { range: `bytes=${start}-${end}` }).then((got) =>
              assert.ok(got.equals(b.subarray(start, end + 1)), `range ${start}-${end} of ${b.length}`),
            ),
          );
        }
      }
      await Promise.all(jobs);
    } finally {
      await s.close();
    }
  },
);

test('a client that goes away mid-download leaves no file open', { timeout: 30_000 }, async () => {
  const s = await startTestServer();
  try {
    const blob = randomBytes(48 * 1024 * 1024);
    const path = `/cas/${sha256(blob)}`;
    assert.equal((await rawRequest(s.url, 'PUT', path, blob)).status, 200);
    const u = new URL(s.url);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = request({ host: u.hostname, port: u.port, path, agent: false }, (res) => {
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got > 2 * 1024 * 1024) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', () => undefined);
        req.on('close', () => resolve());
        req.end();
      });
    }
    let open = await openBlobFiles(s.dir);
    for (let i = 0; i < 100 && open.length > 0; i++) {
      await sleep(20);
      open = await openBlobFiles(s.dir);
    }
    assert.deepEqual(open, []);
    // And the blob is still served whole afterwards.
    assert.ok((await slowGet(s.url, path)).equals(blob));
  } finally {
    await s.close();
  }
});
