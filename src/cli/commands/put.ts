// hoard put FILE... --server URL: uploads files to a cache's CAS and prints their digests
// (HASH/SIZE, one per line, in argument order). Exit 0 when every upload was acknowledged,
// 1 when any failed, 2 on usage errors.
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createHasher, formatDigest, type Digest } from '../../core/digest.ts';
import { createClient } from '../../client/create-client.ts';
import {
  addClientFlags,
  clientTarget,
  parseUsage,
  positiveInt,
  TransferBars,
  type ClientFlags,
} from '../cli-support.ts';
import { Limiter } from '../../client/limiter.ts';

async function digestFile(path: string, signal?: AbortSignal): Promise<Digest> {
  const hasher = createHasher();
  let size = 0;
  await pipeline(
    createReadStream(path),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        hasher.update(chunk);
        size += chunk.length;
        cb();
      },
    }),
    { signal },
  );
  return { hash: hasher.digest('hex'), sizeBytes: size };
}

export function registerPut(program: Command): void {
  addClientFlags(
    program
      .command('put')
      .description('upload files to a cache (CAS) and print their digests as HASH/SIZE')
      .argument('<file...>', 'files to upload'),
  )
    .option('-j, --concurrency <n>', 'parallel uploads', '8')
    .action(async function (this: Command, files: string[], flags: ClientFlags & { concurrency: string }) {
      const { limiter, client } = await parseUsage(this, async () => {
        const target = clientTarget(flags);
        const limiter = new Limiter(positiveInt(flags.concurrency, '--concurrency'));
        for (const f of files)
          if (!(await stat(f).catch(() => undefined))?.isFile()) throw new Error(`${f} is not a readable file`);
        return { limiter, client: createClient(target.server, target.options) };
      });
      const bars = new TransferBars();
      const results: string[] = new Array(files.length);
      let failed = 0;
      try {
        await Promise.all(
          files.map((file, i) =>
            limiter.run(async () => {
              try {
                const digest = await digestFile(file);
                await client.put(
                  digest,
                  { open: (offset) => createReadStream(file, { start: offset }) },
                  { onProgress: bars.onProgress },
                );
                results[i] = `${formatDigest(digest)}  ${file}`;
              } catch (err) {
                failed++;
                results[i] = '';
                process.stderr.write(`hoard: put ${file}: ${(err as Error).message}\n`);
              }
            }),
          ),
        );
      } finally {
        bars.stop();
        await client.close();
      }
      for (const line of results) if (line) process.stdout.write(`${line}\n`);
      if (failed > 0) process.exitCode = 1;
    });
}
