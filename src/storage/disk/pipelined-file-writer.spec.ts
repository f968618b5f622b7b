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
