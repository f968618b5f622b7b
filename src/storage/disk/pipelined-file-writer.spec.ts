import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { PipelinedFileWriter } from './pipelined-file-writer.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hoard-pfw-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('the file holds exactly the pushed bytes, in order, for any chunking and batch size', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 8192 }),
      fc.constantFrom(0, 1, 5000),
      async (chunks, batch, flushEveryBytes) => {
        const file = path.join(dir, `f${n++}`);
        const fh = await open(file, 'wx');
        try {
          const w = new PipelinedFileWriter(fh, { batchBytes: batch, flushEveryBytes });
          for (const c of chunks) await w.push(c);
          await w.finish();
        } finally {
          await fh.close();
        }
        assert.deepEqual(await readFile(file), Buffer.concat(chunks));
      },
    ),
    { numRuns: 60 },
  );
});

test('a failed write surfaces at the next push or finish, never as an unhandled rejection', async () => {
  const file = path.join(dir, 'readonly');
  await (await open(file, 'w')).close();
  const fh = await open(file, 'r');
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const w = new PipelinedFileWriter(fh, { batchBytes: 4 });
    await w.push(Buffer.from('12345')); // starts a write that fails (EBADF: opened read-only)
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(w.finish(), /EBADF|bad file/i);
    await w.abandon();
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await fh.close();
  }
  assert.deepEqual(unhandled, []);
});

test('a write the disk refuses for lack of space is written again once room was made, or fails when none could be', async () => {
  for (const roomMade of [true, false]) {
    const file = path.join(dir, `full-${roomMade}`);
    const fh = await open(file, 'wx');
    // The file system fills in the middle of the second batch: part of it lands, then ENOSPC.
    const writev = fh.writev.bind(fh);
    let calls = 0;
    fh.writev = (async (buffers: Uint8Array[], position?: number) => {
      if (++calls !== 2) return writev(buffers, position);
      await writev([buffers[0]!.subarray(0, 3)], position);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fh.writev;
    const asked: [number, number][] = [];
    try {
      const w = new PipelinedFileWriter(fh, {
        batchBytes: 8,
        onNoSpace: async (written, writing) => {
          asked.push([written, writing]);
          return roomMade;
        },
      });
      const chunks = ['first-08', 'second08', 'third-08'].map((c) => Buffer.from(c));
      const all = async () => {
        for (const c of chunks) await w.push(c);
        await w.finish();
      };
      if (roomMade) {
        await all();
        assert.deepEqual(await readFile(file), Buffer.concat(chunks), 'the refused batch was written again whole');
      } else {
        await assert.rejects(all(), /ENOSPC/); // at the next push or the finish
        await w.abandon();
      }
      assert.deepEqual(asked, [[8, 8]], 'asked once, with what the file held and what the write adds');
    } finally {
      await fh.close();
    }
  }
});
