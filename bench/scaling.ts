// Scaling benchmark: what hoard's request threads buy. The rows of bench/http.ts and
// bench/grpc.ts (by default 4 KiB GETs and distinct PUTs and 64 MiB GETs by wrk (the Node
// client without it), FindMissingBlobs of 1,000 digests over gRPC), run by those scripts' own code
// against `hoard serve --workers N` for N = 1, 2, 4, … up to the cores this process may use
// (--max-workers to change it), each N its own server, one after the other. Per row one
// table: the figure, its speed-up over 1 worker, the server's CPU (cores, and per
// operation), the generator's and the rest of the machine's, and the server's busiest
// threads (the store's main thread, or the request threads).
//
// A request thread serves the connections the kernel hands it (SO_REUSEPORT), so a row
// over fewer connections than threads cannot scale: unless told otherwise, the gRPC rows
// run over max(8, 4 × N max) connections with as many calls in flight, and the 64 MiB
// rows over min(8, 2 × N max) streams (the tables' workload names say so).
//
//   ./node_modules/.bin/node bench/scaling.ts [--max-workers N] [--only get,put,large-get,fmb] [--quick] [--md FILE]
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { GRPC_OPTIONS, type GrpcBenchOptions, type GrpcPart, parseGrpcArgs, runGrpcBench } from './grpc.ts';
import { HTTP_OPTIONS, type HttpBenchOptions, type HttpPart, parseHttpArgs, runHttpBench } from './http.ts';
import { listOption, numberOption, runScript, setsWorkers, UsageError, usageLine } from './lib/args.ts';
import { renderScaling, renderScalingMarkdown } from './lib/scaling-report.ts';
import { loadAverage, startRunMeta } from './lib/run-meta.ts';
import type { Section } from './lib/section.ts';

const HTTP_ROWS = ['get', 'put', 'large-put', 'large-get'] as const satisfies readonly HttpPart[];
const GRPC_ROWS = ['batch', 'fmb', 'write', 'read'] as const satisfies readonly GrpcPart[];
const ROWS = [...HTTP_ROWS, ...GRPC_ROWS] as const;
type ScalingRow = (typeof ROWS)[number];
const DEFAULT_ROWS: readonly ScalingRow[] = ['get', 'put', 'large-get', 'fmb'];

export interface ScalingOptions {
  /** Worker counts, ascending, the first the base of the speed-ups. */
  readonly workers: readonly number[];
  readonly http: HttpBenchOptions;
  readonly grpc: GrpcBenchOptions;
}

/** 1, 2, 4, … below `most`, then `most`. */
export function workerLadder(most: number): number[] {
  const ladder: number[] = [];
  for (let n = 1; n < most; n *= 2) ladder.push(n);
  ladder.push(most);
  return ladder;
}

/** Runs the HTTP rows, then the gRPC rows, each once per worker count; returns their sections. */
export async function runScaling(o: ScalingOptions, log: (line: string) => void = console.error): Promise<Section[]> {
  const sections: Section[] = [];
  if (o.http.parts.length) sections.push(await runHttpBench(o.http, log));
  if (o.grpc.parts.length) sections.push(await runGrpcBench(o.grpc, log));
  return sections;
}

// Every tuning option of the two scripts; not their peers, nor a worker list of their own.
const {
  'bazel-remote': _httpPeer,
  'hoard-baseline': _httpBaseline,
  'no-nginx': _nginx,
  workers: _httpWorkers,
  ...HTTP_TUNING
} = HTTP_OPTIONS;
const {
  'bazel-remote': _grpcPeer,
  'hoard-baseline': _grpcBaseline,
  workers: _grpcWorkers,
  ...GRPC_TUNING
} = GRPC_OPTIONS;

export const SCALING_OPTIONS = {
  ...HTTP_TUNING,
  ...GRPC_TUNING,
  'max-workers': { type: 'string' },
  only: { type: 'string' },
  json: { type: 'string' },
  md: { type: 'string' },
} as const;

export function parseScalingArgs(argv: readonly string[]): ScalingOptions {
  const { values } = parseArgs({ args: [...argv], options: SCALING_OPTIONS, strict: false });
  const most = numberOption('max-workers', values['max-workers'], availableParallelism());
  if (!Number.isInteger(most) || most > 256)
    throw new UsageError(
      `--max-workers takes a whole number from 1 to 256, got ${JSON.stringify(values['max-workers'])}`,
    );
  const rows = listOption('only', values.only, ROWS, DEFAULT_ROWS);
  const http = parseHttpArgs(argv);
  const grpc = parseGrpcArgs(argv);
  if (setsWorkers(http.hoardArgs))
    throw new UsageError('bench/scaling.ts sets each hoard its worker count: leave --workers out of --hoard-arg');
  const workers = workerLadder(most);
  // Enough connections and work in flight that every request thread can get some.
  const streams = values['large-concurrency'] === undefined ? Math.min(8, 2 * most) : http.largeConcurrency;
  const spread = (given: unknown, n: number) => (given === undefined ? Math.max(8, n, 4 * most) : n);
  const noPeers = { bazelRemote: undefined, hoardBaseline: undefined, workers };
  return {
    workers,
    http: {
      ...http,
      ...noPeers,
      nginx: false,
      parts: HTTP_ROWS.filter((r) => rows.includes(r)),
      largeConcurrency: Math.max(http.largeConcurrency, streams),
      largeCount: Math.max(http.largeCount, 2 * streams),
    },
    grpc: {
      ...grpc,
      ...noPeers,
      ceilings: false,
      parts: GRPC_ROWS.filter((r) => rows.includes(r)),
      channels: spread(values.channels, grpc.channels),
      fmbConcurrency: spread(values['fmb-concurrency'], grpc.fmbConcurrency),
      batchConcurrency: spread(values['batch-concurrency'], grpc.batchConcurrency),
    },
  };
}

const USAGE = `Usage: ./node_modules/.bin/node bench/scaling.ts [options]

Runs rows of bench/http.ts and bench/grpc.ts against \`hoard serve --workers N\` for
N = 1, 2, 4, … up to --max-workers, each N its own server, and prints one table per row:
the figure, the speed-up over 1 worker, the server's CPU (cores and per operation), the
generator's and the rest of the machine's, and the server's busiest threads.

Options:
${usageLine('--max-workers N', `the most workers (default ${availableParallelism()}: one per core this process may use)`)}${usageLine('--only LIST', `which rows, of ${ROWS.join(', ')} (default ${DEFAULT_ROWS.join(',')})`)}${usageLine('--quick', 'a short run (the quick settings of bench/http.ts and bench/grpc.ts)')}${usageLine('--json FILE', 'also write the results as JSON')}${usageLine('--md FILE', 'also write them as a Markdown fragment for bench/RESULTS.md')}${usageLine('--channels N', 'gRPC connections (default max(8, 4 × max workers), so each thread gets some)')}${usageLine('--large-concurrency N', '64 MiB transfers in flight, one connection each (default min(8, 2 × max workers))')}
Also every tuning option of bench/http.ts and bench/grpc.ts: ${Object.keys({ ...HTTP_TUNING, ...GRPC_TUNING })
  .filter((k) => !['quick', 'channels', 'large-concurrency'].includes(k))
  .map((k) => `--${k}`)
  .join(', ')} (see their --help).
  -h, --help                     print this and exit
`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(argv, USAGE, [SCALING_OPTIONS], async () => {
    const { values } = parseArgs({ args: argv, options: SCALING_OPTIONS, strict: false });
    const options = parseScalingArgs(argv);
    const meta = startRunMeta('bench/scaling.ts', argv);
    if (options.workers.some((n) => n > availableParallelism()))
      console.error(`scaling: more workers than the ${availableParallelism()} cores this process may use`);
    const sections = await runScaling(options);
    const done = { ...meta, loadAfter: loadAverage() };
    process.stdout.write(renderScaling(sections, options.workers));
    process.stdout.write(
      `\n${done.date} · code ${done.revision} · ${done.machine} · load average before ${done.loadBefore}, after ${done.loadAfter}\n`,
    );
    if (typeof values.json === 'string')
      await writeFile(values.json, JSON.stringify({ meta: done, workers: options.workers, sections }, null, 2));
    if (typeof values.md === 'string')
      await writeFile(values.md, renderScalingMarkdown(sections, options.workers, done));
  });
}
