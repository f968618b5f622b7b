// hoard get HASH/SIZE --server URL -o FILE: downloads a CAS blob, verifies it against the
// digest, and only then moves it into place (a failed or corrupt download never leaves a
// file at FILE). `-o -` writes to stdout. Exit 0 ok, 1 on a miss or failure, 2 usage.
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatDigest } from '../../core/digest.ts';
import {
  addClientFlags,
  openClient,
  parseDigestArg,
  parseUsage,
  TransferBars,
  type ClientFlags,
} from '../cli-support.ts';

export function registerGet(program: Command): void {
  addClientFlags(
    program
      .command('get')
      .description('download a blob (CAS) by digest, verified, to a file or stdout')
      .argument('<digest>', 'HASH/SIZE'),
  )
    .requiredOption('-o, --output <file>', 'where to write the blob ("-" for stdout)')
    .action(async function (this: Command, arg: string, flags: ClientFlags & { output: string }) {
      const { digest, client } = await parseUsage(this, () => ({
        digest: parseDigestArg(arg),
        client: openClient(flags),
      }));
      const bars = new TransferBars();
      const tmp =
        flags.output === '-'
          ? undefined
          : join(dirname(flags.output), `.${basename(flags.output)}.hoard-${process.pid}`);
      try {
        const stream = await client.get(digest, { onProgress: bars.onProgress });
        if (!stream) {
          process.stderr.write(`hoard: ${formatDigest(digest)} not found on ${client.server}\n`);
          process.exitCode = 1;
          return;
        }
        // The stream errors at its end if the bytes do not match the digest: write aside, rename after.
        await pipeline(stream, tmp ? createWriteStream(tmp) : process.stdout);
        if (tmp) await rename(tmp, flags.output);
      } catch (err) {
        if (tmp) await rm(tmp, { force: true });
        throw err;
      } finally {
        bars.stop();
        await client.close();
      }
    });
}
