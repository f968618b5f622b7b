// hoard bench --server URL: a load generator for any cache (Bazel HTTP or REAPI gRPC).
// Prints a table (ops/s, MB/s, p50/p95/p99 latency) per scenario and can write JSON.
// Exit 0 when no operation failed, 1 otherwise, 2 on usage errors.
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { addClientFlags, clientTarget, parseUsage, positiveInt, type ClientFlags } from '../cli-support.ts';
import { BENCH_HEADER, formatBenchRow, runBench, SCENARIOS, type Scenario } from '../../client/load-generator.ts';

interface BenchFlags extends ClientFlags {
  concurrency: string;
  duration: string;
  count?: string;
  size: string;
  smallSize: string;
  scenarios?: string;
  json?: string;
}

export function registerBench(program: Command): void {
  addClientFlags(
    program
      .command('bench')
      .description('load-test any cache: small/large put/get, existence checks; table of ops/s, MB/s, p50/p95/p99'),
  )
    .option('-c, --concurrency <n>', 'operations in flight', '16')
    .option('-d, --duration <seconds>', 'run each scenario this long', '5')
    .option('-n, --count <ops>', 'run each scenario for exactly this many operations (instead of --duration)')
    .option('--size <bytes>', 'large blob size', String(1024 * 1024))
    .option('--small-size <bytes>', 'small blob size', '4096')
    .option('--scenarios <list>', `comma-separated, in order: ${SCENARIOS.join(',')}`)
    .option('--json <file>', 'also write the results as JSON')
    .action(async function (this: Command, flags: BenchFlags) {
      const opts = await parseUsage(this, () => {
        const target = clientTarget(flags);
        const opts = {
          server: target.server,
          clientOptions: target.options,
          concurrency: positiveInt(flags.concurrency, '--concurrency'),
          durationMs: Number(flags.duration) * 1000,
          count: flags.count === undefined ? undefined : positiveInt(flags.count, '--count'),
          largeSize: positiveInt(flags.size, '--size'),
          smallSize: positiveInt(flags.smallSize, '--small-size'),
        };
        if (!(opts.durationMs > 0))
          throw new Error(`--duration ${JSON.stringify(flags.duration)}: expected a positive number of seconds`);
        const scenarios = flags.scenarios?.split(',').map((s) => s.trim()) as Scenario[] | undefined;
        const bad = scenarios?.filter((s) => !SCENARIOS.includes(s));
        if (bad?.length) throw new Error(`unknown scenario ${bad.join(', ')}; known: ${SCENARIOS.join(', ')}`);
        return { ...opts, scenarios };
      });
      process.stdout.write(`${BENCH_HEADER}\n`);
      const report = await runBench({ ...opts, onResult: (r) => process.stdout.write(`${formatBenchRow(r)}\n`) });
      const failed = report.results.filter((r) => r.errors > 0);
      for (const r of failed)
        process.stderr.write(`hoard: ${r.scenario}: ${r.errors} errors, first: ${r.firstError}\n`);
      if (flags.json) await writeFile(flags.json, `${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = failed.length ? 1 : 0;
    });
}
