// HTTP benchmark: the Bazel HTTP cache protocol (4 KiB GETs and distinct PUTs, 64 MiB PUTs
// and GETs) against hoard (or, with --workers 1,2, one hoard per worker count) and, one
// after the other in the same run, hoard from an earlier checkout (--hoard-baseline DIR),
// bazel-remote (--bazel-remote PATH) and nginx WebDAV (when installed: a plain file server,
// the ceiling of HTTP plumbing). Small requests and the large GETs are driven by wrk (lean
// C), the large PUTs by a lean Node client (also the large GETs' when wrk is missing); every
// figure carries the CPU shares of server, generator and the rest of the machine.
//
//   ./node_modules/.bin/node bench/http.ts [--seconds 10] [--workers 1,2] [--bazel-remote PATH] [--hoard-baseline DIR] [--quick]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hoardArgsOption, numberOption, runScript, sizeOption, usageLine, workersOption } from './lib/args.ts';
import { blobFamily } from './lib/blobs.ts';
import { prefill, transfer } from './lib/http-load.ts';
import { mb, type Row } from './lib/report.ts';
import { formatSize, newSection, ratioGoal, renderSection, type Section } from './lib/section.ts';
import {
  type HoardCheckout,
  hoardCheckout,
  spreadNote,
  startBazelRemote,
  startHoard,
  startNginx,
  type Target,
} from './lib/targets.ts';
import {
  getScript,
  putScript,
  runWrk,
  wholeBodiesProblem,
  wrkBinary,
  wrkThreadsFor,
  writeHashFile,
} from './lib/wrk.ts';

/** The workloads: 4 KiB GETs and distinct PUTs (wrk), 64 MiB PUTs (Node client), then GETs of them (wrk, or the Node client). */
export const HTTP_PARTS = ['get', 'put', 'large-put', 'large-get'] as const;
export type HttpPart = (typeof HTTP_PARTS)[number];

export interface HttpBenchOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly wrkThreads: number;
  readonly smallSize: number;
  readonly getBlobs: number;
  readonly largeSize: number;
  readonly largeCount: number;
  readonly largeConcurrency: number;
  readonly bazelRemote?: string;
  /** An earlier checkout of hoard, measured beside this one as hoard@<commit>. */
  readonly hoardBaseline?: HoardCheckout;
  readonly nginx: boolean;
  readonly hoardArgs: readonly string[];
  /** One hoard per worker count (`hoard serve --workers N`), side by side; without, one `hoard` with its default. */
  readonly workers?: readonly number[];
  /** Which workloads are measured (64 MiB GETs upload their blobs first, measured or not). */
  readonly parts: readonly HttpPart[];
}

export const HTTP_DEFAULTS: HttpBenchOptions = {
  seconds: 10,
  connections: 32,
  wrkThreads: 2,
  smallSize: 4096,
  getBlobs: 2000,
  largeSize: 64 * 2 ** 20,
  largeCount: 8,
  largeConcurrency: 2,
  nginx: true,
  hoardArgs: [],
  parts: HTTP_PARTS,
};

export const HTTP_QUICK: Partial<HttpBenchOptions> = { seconds: 1, getBlobs: 50, largeSize: 2 ** 20, largeCount: 4 };

export async function runHttpBench(o: HttpBenchOptions, log: (line: string) => void = console.error): Promise<Section> {
  const small = formatSize(o.smallSize);
  const large = formatSize(o.largeSize);
  const w = {
    get: `${small} GET (${o.connections} conn)`,
    put: `${small} PUT distinct (${o.connections} conn)`,
    largePut: `${large} PUT (${o.largeConcurrency} streams)`,
    largeGet: `${large} GET (${o.largeConcurrency} streams)`,
  };
  const s = newSection('HTTP (Bazel HTTP cache protocol)');
  const wrkParts = o.parts.includes('get') || o.parts.includes('put');
  if (wrkParts && !wrkBinary())
    s.notes.push('wrk not installed: small-request figures skipped (apt-get install -y wrk)');
  const starters: (() => Promise<Target | undefined>)[] = (o.workers ?? [undefined]).map(
    (workers) => () => startHoard({ grpc: false, extraArgs: o.hoardArgs, workers }),
  );
  const baseline = o.hoardBaseline;
  if (baseline) starters.push(() => startHoard({ grpc: false, extraArgs: o.hoardArgs, checkout: baseline }));
  if (o.bazelRemote) starters.push(() => startBazelRemote(o.bazelRemote as string));
  if (o.nginx) starters.push(() => startNginx());

  // Enough precomputed distinct bodies for a generous rate over the whole run.
  const putCount = Math.max(1000, Math.ceil(40_000 * o.seconds));
  const smallFamily = blobFamily(o.smallSize);
  const largeFamily = blobFamily(o.largeSize);
  const hashDir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-hashes-'));
  const hashFile = path.join(hashDir, 'put-hashes.txt');
  try {
    if (wrkParts && wrkBinary()) await writeHashFile(smallFamily, putCount, hashFile);
    for (const start of starters) {
      let target: Target | undefined;
      try {
        target = await start();
      } catch (err) {
        s.notes.push(`a server did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
        log(`http: start failed: ${(err as Error).message}`);
        continue;
      }
      if (!target) continue;
      log(`http: ${target.describe}`);
      s.notes.push(`${target.name}: ${target.describe}`);
      try {
        await benchTarget(target, o, s, w, { smallFamily, largeFamily, hashFile, putCount }, log);
      } catch (err) {
        s.notes.push(`${target.name}: run failed: ${(err as Error).message.split('\n')[0]}`);
        log(`http: ${target.name} failed: ${(err as Error).stack ?? String(err)}`);
      } finally {
        await target.stop();
      }
    }
  } finally {
    await rm(hashDir, { recursive: true, force: true });
  }
  // hoard's goals against the most used self-hosted Bazel cache, measured in this run.
  const howToRun = 'give --bazel-remote PATH';
  if (o.parts.includes('get')) ratioGoal(s, w.get, 'bazel-remote', 1, howToRun);
  if (o.parts.includes('put')) ratioGoal(s, w.put, 'bazel-remote', 5, howToRun);
  if (o.parts.includes('large-put')) ratioGoal(s, w.largePut, 'bazel-remote', 2, howToRun);
  const spread = spreadNote(
    [
      ...(wrkParts ? [`${o.connections} for the ${small} GETs and PUTs (wrk)`] : []),
      ...(o.parts.some((p) => p.startsWith('large-'))
        ? [`${o.largeConcurrency} for the ${large} transfers (--large-concurrency)`]
        : []),
    ],
    o.workers,
    o.hoardArgs,
  );
  if (spread) s.notes.push(spread);
  s.notes.push(
    'MB = 10^6 bytes. CPU shares are of the whole machine (all cores = 100%): gen = load generator, srv = server, other = everything else running meanwhile.',
  );
  return s;
}

async function benchTarget(
  t: Target,
  o: HttpBenchOptions,
  s: Section,
  w: Record<'get' | 'put' | 'largePut' | 'largeGet', string>,
  data: {
    smallFamily: ReturnType<typeof blobFamily>;
    largeFamily: ReturnType<typeof blobFamily>;
    hashFile: string;
    putCount: number;
  },
  log: (line: string) => void,
): Promise<void> {
  const base = t.httpUrl as string;
  if (o.parts.includes('get') && wrkBinary()) {
    // GET set: blobs putCount.. of the small family (the PUT phase uses 0..putCount-1).
    await prefill(base, data.smallFamily, data.putCount, o.getBlobs);
    const paths = Array.from({ length: o.getBlobs }, (_, i) => `/cas/${data.smallFamily.hash(data.putCount + i)}`);
    const get = await runWrk({
      url: base,
      script: getScript(paths),
      seconds: o.seconds,
      connections: o.connections,
      threads: o.wrkThreads,
      serverPids: t.pids,
    });
    s.rows.push({
      workload: w.get,
      target: t.name,
      value: get.perSecond,
      unit: 'req/s',
      cpu: get.cpu,
      detail: `p95 ${get.p95ms.toFixed(2)} ms, ${get.requests} reqs`,
      warning: get.errors ? `${get.errors} errors/non-2xx` : undefined,
    });
    log(`http: ${t.name} ${w.get}: ${Math.round(get.perSecond)} req/s`);
  }

  if (o.parts.includes('put') && wrkBinary()) {
    const put = await runWrk({
      url: base,
      script: putScript(data.smallFamily, '/cas/', data.hashFile, data.putCount, o.wrkThreads),
      seconds: o.seconds,
      connections: o.connections,
      threads: o.wrkThreads,
      serverPids: t.pids,
    });
    const repeated = put.requests > data.putCount;
    s.rows.push({
      workload: w.put,
      target: t.name,
      value: put.perSecond,
      unit: 'req/s',
      cpu: put.cpu,
      detail: `p95 ${put.p95ms.toFixed(2)} ms, ${put.requests} reqs`,
      warning: put.errors
        ? `${put.errors} errors/non-2xx`
        : repeated
          ? `more requests than ${data.putCount} distinct bodies`
          : undefined,
    });
    log(`http: ${t.name} ${w.put}: ${Math.round(put.perSecond)} req/s`);
  }

  const common = {
    base,
    family: data.largeFamily,
    from: 0,
    count: o.largeCount,
    concurrency: o.largeConcurrency,
    serverPids: t.pids,
  };
  if (!o.parts.includes('large-put') && !o.parts.includes('large-get')) return;
  // The GETs read what these PUTs stored: they run (unmeasured) for the GETs alone too.
  const lp = await transfer({ ...common, method: 'PUT' });
  if (o.parts.includes('large-put')) {
    s.rows.push({
      workload: w.largePut,
      target: t.name,
      value: lp.mbPerSecond,
      unit: 'MB/s',
      cpu: lp.cpu,
      detail: `${lp.ops} blobs, ${mb(o.largeSize * lp.ops).toFixed(0)} MB, p95 ${lp.p95ms.toFixed(0)} ms`,
      warning: lp.failures ? `${lp.failures} failed` : undefined,
    });
    log(`http: ${t.name} ${w.largePut}: ${lp.mbPerSecond.toFixed(0)} MB/s`);
  } else if (lp.failures)
    throw new Error(`${lp.failures} of the ${formatSize(o.largeSize)} uploads for the GETs failed`);
  if (!o.parts.includes('large-get')) return;
  const lg = wrkBinary() ? await largeGetsWrk(t, o, data.largeFamily) : await largeGetsNode(common, o);
  s.rows.push({ workload: w.largeGet, target: t.name, ...lg });
  if (lg.warning) log(`http: ${t.name} ${w.largeGet}: NOT CLEAN: ${lg.warning}`);
  log(`http: ${t.name} ${w.largeGet}: ${lg.value.toFixed(0)} MB/s (${lg.detail})`);
}

type LargeGetRow = Pick<Row, 'value' | 'unit' | 'cpu' | 'warning'> & { readonly detail: string };

/**
 * Each wrk connection should download several large blobs: the check of the bytes read
 * (wholeBodiesProblem) allows for one cut-off blob per connection at the end, which must
 * stay small beside what completed, and a p95 needs more than a handful of responses.
 * So the run lasts --seconds, but at least long enough for LARGE_GETS_PER_CONNECTION blobs
 * per connection at LARGE_GET_FLOOR_MBPS (a low figure for a server on loopback): 3 s for
 * 64 MiB over 2 connections, when --quick or --seconds 1 would leave a slow server one or
 * two. Fewer than MIN_LARGE_GETS_PER_CONNECTION per connection marks the row.
 */
const LARGE_GETS_PER_CONNECTION = 4;
const LARGE_GET_FLOOR_MBPS = 200;
const MIN_LARGE_GETS_PER_CONNECTION = 2;

/**
 * The large GETs by wrk: a Lua script cycling over the large blobs' paths (the PUTs just
 * stored them), --large-concurrency connections, up to two threads. MB/s is everything wrk
 * read (headers are a few hundred bytes per response, nothing beside a large body) over its
 * run; every response must be a 2xx with the whole body, or the row is marked.
 */
async function largeGetsWrk(
  t: Target,
  o: HttpBenchOptions,
  family: ReturnType<typeof blobFamily>,
): Promise<LargeGetRow> {
  const connections = o.largeConcurrency;
  const perConnectionBytes = LARGE_GETS_PER_CONNECTION * o.largeSize;
  const seconds = Math.max(o.seconds, Math.ceil((connections * perConnectionBytes) / (LARGE_GET_FLOOR_MBPS * 1e6)));
  const paths = Array.from({ length: o.largeCount }, (_, i) => `/cas/${family.hash(i)}`);
  const r = await runWrk({
    url: t.httpUrl as string,
    script: getScript(paths),
    seconds,
    connections,
    threads: wrkThreadsFor(connections),
    serverPids: t.pids,
    // A response slower than the timeout counts as an error: allow 10 MB/s per stream.
    timeoutSeconds: Math.max(10, Math.ceil(o.largeSize / 10e6)),
  });
  const problem = wholeBodiesProblem(r, o.largeSize, connections);
  const few =
    r.requests < MIN_LARGE_GETS_PER_CONNECTION * connections
      ? `only ${r.requests} responses over ${connections} connections in ${seconds} s: give a longer --seconds`
      : undefined;
  return {
    value: mb(r.bytesRead) / r.seconds,
    unit: 'MB/s',
    cpu: r.cpu,
    detail: `wrk: ${r.requests} GETs of ${o.largeCount} blobs in ${r.seconds.toFixed(1)} s, p95 ${r.p95ms.toFixed(0)} ms`,
    warning: problem ? `not every response whole: ${problem}` : few,
  };
}

/** The large GETs by the Node client (when wrk is missing): each blob once, --large-concurrency at a time. */
async function largeGetsNode(
  common: Omit<Parameters<typeof transfer>[0], 'method'>,
  o: HttpBenchOptions,
): Promise<LargeGetRow> {
  const r = await transfer({ ...common, method: 'GET' });
  return {
    value: r.mbPerSecond,
    unit: 'MB/s',
    cpu: r.cpu,
    detail: `Node client: ${r.ops} blobs, p95 ${r.p95ms.toFixed(0)} ms`,
    warning: r.failures ? `${r.failures} of ${o.largeCount} failed` : undefined,
  };
}

export const HTTP_OPTIONS = {
  seconds: { type: 'string' },
  connections: { type: 'string' },
  'wrk-threads': { type: 'string' },
  'get-blobs': { type: 'string' },
  'large-size': { type: 'string' },
  'large-count': { type: 'string' },
  'large-concurrency': { type: 'string' },
  'bazel-remote': { type: 'string' },
  'hoard-baseline': { type: 'string' },
  'no-nginx': { type: 'boolean' },
  'hoard-arg': { type: 'string', multiple: true },
  workers: { type: 'string' },
  quick: { type: 'boolean' },
} as const;

export function parseHttpArgs(argv: readonly string[]): HttpBenchOptions {
  const { values } = parseArgs({ args: [...argv], options: HTTP_OPTIONS, strict: false });
  const base = { ...HTTP_DEFAULTS, ...(values.quick ? HTTP_QUICK : {}) };
  const num = (name: string, fallback: number) => numberOption(name, values[name as keyof typeof values], fallback);
  return {
    ...base,
    seconds: num('seconds', base.seconds),
    connections: num('connections', base.connections),
    wrkThreads: num('wrk-threads', base.wrkThreads),
    getBlobs: num('get-blobs', base.getBlobs),
    largeSize: sizeOption('large-size', values['large-size'], base.largeSize),
    largeCount: num('large-count', base.largeCount),
    largeConcurrency: num('large-concurrency', base.largeConcurrency),
    bazelRemote: typeof values['bazel-remote'] === 'string' ? values['bazel-remote'] : undefined,
    hoardBaseline: typeof values['hoard-baseline'] === 'string' ? hoardCheckout(values['hoard-baseline']) : undefined,
    nginx: !values['no-nginx'],
    hoardArgs: hoardArgsOption(values['hoard-arg'], values.workers),
    workers: workersOption(values.workers),
  };
}

const d = HTTP_DEFAULTS;
/** The options of this script, as --help prints them (bench/run.ts prints them too). */
export const HTTP_OPTIONS_HELP =
  usageLine(
    '--seconds N',
    `length of each wrk run (default ${d.seconds}; the large GETs run long enough for several blobs per connection)`,
  ) +
  usageLine(
    '--connections N',
    `wrk connections for the ${formatSize(d.smallSize)} GETs and PUTs (default ${d.connections})`,
  ) +
  usageLine(
    '--wrk-threads N',
    `wrk threads for the ${formatSize(d.smallSize)} GETs and PUTs (default ${d.wrkThreads}; the large GETs take up to 2)`,
  ) +
  usageLine('--get-blobs N', `distinct blobs the GETs cycle through (default ${d.getBlobs})`) +
  usageLine('--large-size SIZE', `size of the large blobs, e.g. 64MiB (default ${formatSize(d.largeSize)})`) +
  usageLine(
    '--large-count N',
    `large blobs uploaded, then downloaded in turn for --seconds by wrk (once each by the Node client without wrk) (default ${d.largeCount})`,
  ) +
  usageLine(
    '--large-concurrency N',
    `large transfers in flight: PUT streams, wrk connections for the GETs (default ${d.largeConcurrency})`,
  ) +
  usageLine('--bazel-remote PATH', 'also measure this bazel-remote binary, side by side') +
  usageLine(
    '--hoard-baseline DIR',
    'also measure `hoard serve` of this checkout (a git worktree of an earlier commit, with node_modules) as hoard@<commit>',
  ) +
  usageLine('--no-nginx', 'leave out nginx WebDAV even when it is installed') +
  usageLine('--hoard-arg ARG', 'an extra argument for `hoard serve` (repeatable)') +
  usageLine(
    '--workers LIST',
    'measure one hoard per worker count, side by side, e.g. 1,2 (`hoard serve --workers N`, named "hoard (N workers)"; auto = one per core); default one hoard with its default (auto)',
  ) +
  usageLine(
    '--quick',
    `a short run (${HTTP_QUICK.seconds} s per wrk run, ${formatSize(HTTP_QUICK.largeSize ?? d.largeSize)} large blobs)`,
  );

export const HTTP_USAGE = `Usage: ./node_modules/.bin/node bench/http.ts [options]

Bazel HTTP cache throughput of hoard (one per worker count with --workers), an earlier hoard
(with --hoard-baseline), bazel-remote (with --bazel-remote) and nginx WebDAV (when
installed), one after the other in one run; small requests and large GETs by wrk (large GETs
by a Node client when wrk is missing), large PUTs by a Node client.

Options:
${HTTP_OPTIONS_HELP}  -h, --help                     print this and exit
`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(argv, HTTP_USAGE, [HTTP_OPTIONS], async () => {
    const options = parseHttpArgs(argv);
    process.stdout.write(renderSection(await runHttpBench(options)));
  });
}
