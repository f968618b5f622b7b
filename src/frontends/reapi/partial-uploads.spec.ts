import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { PartialUploads } from './partial-uploads.ts';

const OPTIONS = { maxBytes: 1 << 20, maxAgeMs: 60_000 };

test('request threads sharing a spool directory: a cut upload spooled by one resumes on another, once', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-spool-'));
  const one = new PartialUploads({ dir, ...OPTIONS, sharedBy: 1 });
  const two = new PartialUploads({ dir, ...OPTIONS, sharedBy: 2 });
  const signal = new AbortController().signal;
  try {
    const first = await one.acquire('upload', signal);
    await first.append([Buffer.from('hello '), Buffer.from('world, and more')]);
    first.truncate(11); // the client resumes from less than was spooled
    assert.equal(await two.committed('upload'), undefined, 'a spool being written is its writer’s alone');
    await first.settle(true);

    assert.equal(await two.committed('upload'), 11);
    assert.equal(await one.committed('upload'), 11, 'the writer forgot it: it reads the resting spool too');
    const resumed = await two.acquire('upload', signal);
    assert.equal(resumed.size, 11);
    assert.equal((await buffer(resumed.prefix(signal)!)).toString(), 'hello world');
    // Claimed: the other thread no longer sees it, so it cannot start a second resumption.
    assert.equal(await one.committed('upload'), undefined);
    const other = await one.acquire('upload', signal);
    assert.equal(other.size, 0);
    await other.settle(false);

    await resumed.append([Buffer.from('!')]);
    await resumed.settle(false); // published: the spool goes
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await one.close();
    await two.close();
    await rm(dir, { recursive: true, force: true });
  }
});
