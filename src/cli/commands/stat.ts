// hoard stat HASH/SIZE... --server URL: which blobs the cache has. Prints
// "present HASH/SIZE" or "missing HASH/SIZE" per digest; exit 0 when all are present,
// 1 when any is missing or the query failed, 2 on usage errors.
import type { Command } from 'commander';
import { formatDigest } from '../../core/digest.ts';
import { addClientFlags, openClient, parseDigestArg, parseUsage, type ClientFlags } from '../cli-support.ts';

export function registerStat(program: Command): void {
  addClientFlags(
    program.command('stat').description('report which blobs (CAS) a cache has').argument('<digest...>', 'HASH/SIZE'),
  ).action(async function (this: Command, args: string[], flags: ClientFlags) {
    const { digests, client } = await parseUsage(this, () => ({
      digests: args.map(parseDigestArg),
      client: openClient(flags),
    }));
    try {
      const missing = new Set((await client.findMissing(digests)).map(formatDigest));
      for (const d of digests)
        process.stdout.write(`${missing.has(formatDigest(d)) ? 'missing' : 'present'} ${formatDigest(d)}\n`);
      if (missing.size > 0) process.exitCode = 1;
    } finally {
      await client.close();
    }
  });
}
