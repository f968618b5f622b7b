// Turborepo remote cache benchmark: hoard's /v8/artifacts against turborepo-remote-cache
// (the npm devDependency, local-disk storage), both taking the same bearer token, started
// together and measured workload by workload in turn so a row's figures are close in time:
// 4 KiB artifact GETs (prefilled) and distinct PUTs by wrk over keep-alive connections,
// 256 MiB artifact PUTs (a lean Node client) and GETs of them (wrk), each for --rounds
// rounds (the servers' order alternating; a row is the median round), then one 1 GiB upload
// per server while its RSS is sampled. Every request is what turbo sends: `Authorization:
// Bearer`, `?slug=` for the team, and on PUT `Content-Type: application/octet-stream` and
// `x-artifact-duration`.
//
//   ./node_modules/.bin/node bench/turborepo.ts [--seconds 10] [--rounds 3] [--artifact-size 256MiB] [--quick]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hoardArgsOption, numberOption, runScript, sizeOption, usageLine } from './lib/args.ts';
import {
  agent,
  artifactPath,
  artifactPutScript,
  artifactRequest,
  PUT_HEADER_LINES,
  prefillArtifacts,
  putLargeArtifacts,
  streamedBody,
} from './lib/artifact-load.ts';
import { blobFamily, type BlobFamily } from './lib/blobs.ts';
import { formatNumber, mb, type Row } from './lib/report.ts';
import { startRssSampler } from './lib/rss.ts';
import { formatSize, newSection, ratioGoal, renderSection, type Section, thresholdGoal } from './lib/section.ts';
import { HOARD } from './lib/target-names.ts';
import {
  type ArtifactServer,
  makeTokenFixture,
  startTurboHoard,
  startTurboPeer,
  TURBO_PEER,
  type TokenFixture,
} from './lib/turborepo-targets.ts';
import { getScript, runWrk, wholeBodiesProblem, wrkBinary, wrkThreadsFor, writeHashFile } from './lib/wrk.ts';

export interface TurborepoBenchOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly wrkThreads: number;
  readonly smallSize: number;
  readonly getBlobs: number;
  readonly artifactSize: number;
  /** Large artifacts uploaded per round (and downloaded in turn by the round's GETs). */
  readonly artifactCount: number;
  readonly artifactConcurrency: number;
  readonly rounds: number;
  /** The upload during which each server's RSS is sampled. */
  readonly rssSize: number;
  readonly hoardArgs: readonly string[];
}

export const TURBOREPO_DEFAULTS: TurborepoBenchOptions = {
  seconds: 10,
  connections: 32,
  wrkThreads: 2,
  smallSize: 4096,
  getBlobs: 2000,
  artifactSize: 256 * 2 ** 20,
  artifactCount: 4,
  artifactConcurrency: 2,
  rounds: 3,
  rssSize: 2 ** 30,
  hoardArgs: [],
};

export const TURBOREPO_QUICK: Partial<TurborepoBenchOptions> = {
  seconds: 1,
  getBlobs: 50,
  artifactSize: 2 ** 20,
  artifactCount: 2,
  rounds: 1,
  rssSize: 16 * 2 ** 20,
};

/** The goals: hoard over the peer, per workload. */
const GOALS = { get: 3, put: 1.5, largePut: 1.5, largeGet: 1.5 } as const;
/** The most hoard's RSS may grow while it takes one large upload (MiB). */
const RSS_GROWTH_MAX_MIB = 64;

/** Large GETs: several artifacts per connection at a floor rate, as bench/http.ts sizes its runs. */
const LARGE_GETS_PER_CONNECTION = 4;
const LARGE_GET_FLOOR_MBPS = 200;

type Workload = 'get' | 'put' | 'largePut' | 'largeGet';

export async function runTurborepoBench(
  o: TurborepoBenchOptions,
  log: (line: string) => void = console.error,
): Promise<Section> {
  const small = formatSize(o.smallSize);
  const large = formatSize(o.artifactSize);
  const w: Record<Workload | 'rss', string> = {
    get: `${small} GET (${o.connections} conn)`,
    put: `${small} PUT distinct (${o.connections} conn)`,
    largePut: `${large} PUT (${o.artifactConcurrency} streams)`,
    largeGet: `${large} GET (${o.artifactConcurrency} streams)`,
    rss: `RSS growth during one ${formatSize(o.rssSize)} PUT`,
  };
  const s = newSection('Turborepo remote cache API (/v8/artifacts)');
  const wrk = wrkBinary() !== undefined;
  if (!wrk) s.notes.push('wrk not installed: the GET and small PUT figures skipped (apt-get install -y wrk)');
  const fx = await makeTokenFixture();
  const servers: ArtifactServer[] = [];
  const hashDir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-hashes-'));
  // Per workload and server, one row per round; a row of the section is the median round.
  const rounds = new Map<string, Row[]>();
  const record = (r: Row) => {
    const key = `${r.workload}\0${r.target}`;
    rounds.set(key, [...(rounds.get(key) ?? []), r]);
  };
  try {
    const bodyLimit = Math.max(o.artifactSize, o.rssSize) + 2 ** 20;
    for (const start of [() => startTurboHoard(fx, o.hoardArgs), () => startTurboPeer(fx, bodyLimit)]) {
      try {
        const server = await start();
        servers.push(server);
        s.notes.push(`${server.name}: ${server.describe}`);
        log(`turborepo: ${server.describe}`);
      } catch (err) {
        s.notes.push(`a server did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
        log(`turborepo: start failed: ${(err as Error).message}`);
      }
    }
    const failed = new Set<string>();
    const each = async (what: string, order: ArtifactServer[], task: (t: ArtifactServer) => Promise<void>) => {
      for (const t of order) {
        if (failed.has(`${what}\0${t.name}`)) continue;
        try {
          await task(t);
        } catch (err) {
          failed.add(`${what}\0${t.name}`);
          s.notes.push(`${t.name}: ${what} failed: ${(err as Error).message.split('\n')[0]}`);
          log(`turborepo: ${t.name} ${what} failed: ${(err as Error).stack ?? String(err)}`);
        }
      }
    };
    const getFamily = blobFamily(o.smallSize);
    const largeFamily = blobFamily(o.artifactSize);
    const getPaths = Array.from({ length: o.getBlobs }, (_, i) => artifactPath(getFamily.hash(i)));
    if (wrk) await each('prefill', servers, (t) => prefillArtifacts(t.url, fx.authorization, getFamily, 0, o.getBlobs));
    const putCount = Math.max(1000, Math.ceil(40_000 * o.seconds));
    for (let round = 0; round < o.rounds; round++) {
      // Alternate who goes first: a machine getting busier or quieter favours no one.
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      log(`turborepo: round ${round + 1} of ${o.rounds}`);
      if (wrk) {
        await each(w.get, order, async (t) => {
          if (failed.has(`prefill\0${t.name}`)) throw new Error('its prefill failed');
          record(await smallRun(t, o, fx, w.get, getScript(getPaths)));
        });
        // Fresh bodies every round: a round never overwrites what an earlier one stored.
        const putFamily = blobFamily(o.smallSize);
        const hashFile = path.join(hashDir, `put-hashes-${round}.txt`);
        await writeHashFile(putFamily, putCount, hashFile);
        const script = artifactPutScript(putFamily, hashFile, putCount, o.wrkThreads);
        await each(w.put, order, async (t) => record(await smallRun(t, o, fx, w.put, script, putCount)));
      }
      const from = round * o.artifactCount;
      await each(w.largePut, order, async (t) => record(await largePut(t, o, fx, w.largePut, largeFamily, from)));
      if (wrk)
        await each(w.largeGet, order, async (t) => {
          if (failed.has(`${w.largePut}\0${t.name}`)) throw new Error(`its ${large} PUTs failed`);
          record(await largeGet(t, o, fx, w.largeGet, largeFamily, from));
        });
      for (const t of servers) log(`turborepo: ${t.name} after round ${round + 1}: ${roundLine(rounds, t.name, w)}`);
    }
    await each(w.rss, servers, async (t) => {
      const r = await rssDuringUpload(t, o, fx, w.rss);
      s.rows.push(r);
      log(`turborepo: ${t.name} ${w.rss}: ${r.value.toFixed(1)} MiB (${r.detail})`);
    });
  } finally {
    for (const t of servers) await t.stop();
    await fx.dispose();
    await rm(hashDir, { recursive: true, force: true });
  }
  const rss = s.rows.splice(0);
  for (const list of rounds.values()) s.rows.push(median(list));
  s.rows.push(...rss);
  judge(s, w, o);
  return s;
}

/** The rows so far of `target`, as one log line. */
function roundLine(rounds: Map<string, Row[]>, target: string, w: Record<Workload, string>): string {
  return (Object.keys(w) as Workload[])
    .map((k) => rounds.get(`${w[k]}\0${target}`)?.at(-1))
    .filter((r): r is Row => r !== undefined)
    .map((r) => `${r.workload} ${formatNumber(r.value)} ${r.unit}`)
    .join(', ');
}

/** The median round (the lower of the two middle ones for an even count), every round's figure in its detail. */
function median(list: readonly Row[]): Row {
  const sorted = [...list].sort((a, b) => a.value - b.value);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as Row;
  if (list.length === 1) return mid;
  const all = list.map((r) => formatNumber(r.value)).join(' · ');
  const warnings = list.map((r) => r.warning).filter(Boolean);
  return {
    ...mid,
    detail: `median of ${list.length} rounds (${all} ${mid.unit}); that round: ${mid.detail ?? ''}`,
    warning: warnings.length ? warnings.join('; ') : undefined,
  };
}

/** One wrk run of `script` (4 KiB GETs or PUTs); `distinct`: how many distinct bodies a PUT script holds. */
async function smallRun(
  t: ArtifactServer,
  o: TurborepoBenchOptions,
  fx: TokenFixture,
  workload: string,
  script: string,
  distinct?: number,
): Promise<Row> {
  const m = await runWrk({
    url: t.url,
    script,
    seconds: o.seconds,
    connections: o.connections,
    threads: o.wrkThreads,
    serverPids: t.pids,
    headers: [`Authorization: ${fx.authorization}`, ...(distinct === undefined ? [] : PUT_HEADER_LINES)],
  });
  const repeated = distinct !== undefined && m.requests > distinct;
  return {
    workload,
    target: t.name,
    value: m.perSecond,
    unit: 'req/s',
    cpu: m.cpu,
    detail: `p50 ${m.p50ms.toFixed(2)} ms, p95 ${m.p95ms.toFixed(2)} ms, ${m.requests} reqs`,
    warning: m.errors
      ? `${m.errors} errors/non-2xx`
      : repeated
        ? `more requests than ${distinct} distinct bodies`
        : undefined,
  };
}

/** Large artifacts from..from+artifactCount-1, artifactConcurrency at a time, by the Node client. */
async function largePut(
  t: ArtifactServer,
  o: TurborepoBenchOptions,
  fx: TokenFixture,
  workload: string,
  family: BlobFamily,
  from: number,
): Promise<Row> {
  const r = await putLargeArtifacts({
    base: t.url,
    authorization: fx.authorization,
    family,
    from,
    count: o.artifactCount,
    concurrency: o.artifactConcurrency,
    serverPids: t.pids,
  });
  return {
    workload,
    target: t.name,
    value: r.mbPerSecond,
    unit: 'MB/s',
    cpu: r.cpu,
    detail: `${o.artifactCount} artifacts, ${mb(o.artifactSize * o.artifactCount).toFixed(0)} MB in ${r.seconds.toFixed(1)} s, p95 ${r.p95ms.toFixed(0)} ms`,
    warning: r.failures ? `${r.failures} failed (first: ${r.firstFailure})` : undefined,
  };
}

/**
 * GETs of the round's large artifacts by wrk, in turn, over artifactConcurrency
 * connections, long enough for several per connection; every response must be a 2xx with
 * the whole body (bench/lib/wrk.ts's wholeBodiesProblem), or the row is marked.
 */
async function largeGet(
  t: ArtifactServer,
  o: TurborepoBenchOptions,
  fx: TokenFixture,
  workload: string,
  family: BlobFamily,
  from: number,
): Promise<Row> {
  const connections = o.artifactConcurrency;
  const perConnection = LARGE_GETS_PER_CONNECTION * o.artifactSize;
  const seconds = Math.max(o.seconds, Math.ceil((connections * perConnection) / (LARGE_GET_FLOOR_MBPS * 1e6)));
  const paths = Array.from({ length: o.artifactCount }, (_, i) => artifactPath(family.hash(from + i)));
  const r = await runWrk({
    url: t.url,
    script: getScript(paths),
    seconds,
    connections,
    threads: wrkThreadsFor(connections),
    serverPids: t.pids,
    headers: [`Authorization: ${fx.authorization}`],
    // A response slower than the timeout counts as an error: allow 10 MB/s per stream.
    timeoutSeconds: Math.max(10, Math.ceil(o.artifactSize / 10e6)),
  });
  // A chunked response (the peer's) carries 9 bytes of framing per 64 KiB chunk, which the
  // check's header allowance does not cover: allow 0.1% of the bytes for it.
  const framed = { ...r, bytesRead: r.bytesRead - Math.floor(r.bytesRead / 1000) };
  const raw = wholeBodiesProblem(r, o.artifactSize, connections);
  const problem = raw && wholeBodiesProblem(framed, o.artifactSize, connections) ? raw : undefined;
  return {
    workload,
    target: t.name,
    value: mb(r.bytesRead) / r.seconds,
    unit: 'MB/s',
    cpu: r.cpu,
    detail: `wrk: ${r.requests} GETs of ${o.artifactCount} artifacts in ${r.seconds.toFixed(1)} s, p95 ${r.p95ms.toFixed(0)} ms`,
    warning: problem ? `not every response whole: ${problem}` : undefined,
  };
}

/** One streamed upload of rssSize bytes while the server's RSS is sampled; the row is the growth in MiB. */
async function rssDuringUpload(
  t: ArtifactServer,
  o: TurborepoBenchOptions,
  fx: TokenFixture,
  workload: string,
): Promise<Row> {
  const a = agent(1);
  const tag = randomBytes(8).toString('hex');
  const hash = createHash('sha256').update(`${tag} ${t.name}`).digest('hex');
  const sampler = startRssSampler(t.pids);
  const t0 = performance.now();
  let stopped = false;
  try {
    const r = await artifactRequest({
      agent: a,
      base: t.url,
      hash,
      method: 'PUT',
      authorization: fx.authorization,
      body: { size: o.rssSize, chunks: streamedBody(o.rssSize, tag) },
    });
    const seconds = (performance.now() - t0) / 1000;
    const g = sampler.stop();
    stopped = true;
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    return {
      workload,
      target: t.name,
      value: g.growth / 2 ** 20,
      unit: 'MiB',
      detail: `RSS ${mib(g.baseline)} → peak ${mib(g.peak)} MiB (${g.samples} samples every 20 ms${g.highWaterMark ? ' and VmHWM' : ''}), upload ${(mb(o.rssSize) / seconds).toFixed(0)} MB/s`,
      warning: r.status < 200 || r.status > 299 ? `the upload was answered ${r.status}` : undefined,
    };
  } finally {
    if (!stopped) sampler.stop();
    a.destroy();
  }
}

/** The goals against the peer of this run, the Markdown's ratio column and the notes. */
function judge(s: Section, w: Record<Workload | 'rss', string>, o: TurborepoBenchOptions): void {
  const howToRun = `${TURBO_PEER} did not start (npm install: it is a devDependency)`;
  for (const k of ['get', 'put', 'largePut', 'largeGet'] as const) ratioGoal(s, w[k], TURBO_PEER, GOALS[k], howToRun);
  const rss = s.rows.find((r) => r.workload === w.rss && r.target === HOARD);
  thresholdGoal(s, `${w.rss}: ${HOARD}`, rss && !rss.warning ? rss.value : undefined, 'MiB', {
    max: RSS_GROWTH_MAX_MIB,
  });
  s.ratios = [{ h: HOARD, below: TURBO_PEER }];
  s.notes.push(
    `Requests: \`/v8/artifacts/<sha256>?slug=bench\` with \`Authorization: Bearer <token>\` (one token for both servers, made for the run); PUTs add \`Content-Type: application/octet-stream\` and \`x-artifact-duration\`. ${formatSize(o.smallSize)} GETs cycle over ${o.getBlobs} prefilled artifacts; ${formatSize(o.smallSize)} PUTs send distinct artifacts, fresh ones each round.`,
    `Order: both servers ran at once, idle but for the one measured; ${o.rounds} round${o.rounds === 1 ? '' : 's'}, each running every workload against each server in turn (who goes first alternates); a figure is the median round. Then one ${formatSize(o.rssSize)} upload per server, streamed in 1 MiB chunks, while the server's VmRSS (/proc/PID/status) was sampled; the RSS row is its peak over the RSS just before (lower is better: its hoard/this ratio is not a speed-up).`,
    `The peer reads a whole upload into memory before writing it (hence its BODY_LIMIT above ${formatSize(Math.max(o.artifactSize, o.rssSize))}) and does not fsync; hoard streams uploads to its store and publishes an artifact only once it is durable.`,
    'MB = 10^6 bytes. CPU shares are of the whole machine (all cores = 100%): gen = load generator, srv = server, other = everything else running meanwhile.',
  );
}

export const TURBOREPO_OPTIONS = {
  seconds: { type: 'string' },
  connections: { type: 'string' },
  'wrk-threads': { type: 'string' },
  'get-blobs': { type: 'string' },
  'artifact-size': { type: 'string' },
  'artifact-count': { type: 'string' },
  'artifact-concurrency': { type: 'string' },
  rounds: { type: 'string' },
  'rss-size': { type: 'string' },
  'hoard-arg': { type: 'string', multiple: true },
  quick: { type: 'boolean' },
} as const;

export function parseTurborepoArgs(argv: readonly string[]): TurborepoBenchOptions {
  const { values } = parseArgs({ args: [...argv], options: TURBOREPO_OPTIONS, strict: false });
  const base = { ...TURBOREPO_DEFAULTS, ...(values.quick ? TURBOREPO_QUICK : {}) };
  const num = (name: keyof typeof TURBOREPO_OPTIONS, fallback: number) => numberOption(name, values[name], fallback);
  return {
    ...base,
    seconds: num('seconds', base.seconds),
    connections: num('connections', base.connections),
    wrkThreads: num('wrk-threads', base.wrkThreads),
    getBlobs: num('get-blobs', base.getBlobs),
    artifactSize: sizeOption('artifact-size', values['artifact-size'], base.artifactSize),
    artifactCount: num('artifact-count', base.artifactCount),
    artifactConcurrency: num('artifact-concurrency', base.artifactConcurrency),
    rounds: num('rounds', base.rounds),
    rssSize: sizeOption('rss-size', values['rss-size'], base.rssSize),
    hoardArgs: hoardArgsOption(values['hoard-arg'], undefined),
  };
}

const d = TURBOREPO_DEFAULTS;
const q = { ...d, ...TURBOREPO_QUICK };
/** The options of this script, as --help prints them (bench/run.ts prints them too). */
export const TURBOREPO_OPTIONS_HELP =
  usageLine(
    '--seconds N',
    `length of each wrk run (default ${d.seconds}; the large GETs run long enough for several artifacts per connection)`,
  ) +
  usageLine(
    '--connections N',
    `wrk keep-alive connections for the ${formatSize(d.smallSize)} GETs and PUTs (default ${d.connections})`,
  ) +
  usageLine(
    '--wrk-threads N',
    `wrk threads for the ${formatSize(d.smallSize)} GETs and PUTs (default ${d.wrkThreads})`,
  ) +
  usageLine(
    '--get-blobs N',
    `distinct artifacts the ${formatSize(d.smallSize)} GETs cycle through (default ${d.getBlobs})`,
  ) +
  usageLine('--artifact-size SIZE', `size of the large artifacts, e.g. 64MiB (default ${formatSize(d.artifactSize)})`) +
  usageLine(
    '--artifact-count N',
    `large artifacts uploaded per round, then downloaded in turn (default ${d.artifactCount})`,
  ) +
  usageLine(
    '--artifact-concurrency N',
    `large transfers in flight: PUT streams, wrk connections for the GETs (default ${d.artifactConcurrency})`,
  ) +
  usageLine(
    '--rounds N',
    `rounds of every workload against each server; a figure is the median round (default ${d.rounds})`,
  ) +
  usageLine(
    '--rss-size SIZE',
    `the upload during which each server's RSS is sampled (default ${formatSize(d.rssSize)})`,
  ) +
  usageLine('--hoard-arg ARG', 'an extra argument for `hoard serve` (repeatable)') +
  usageLine(
    '--quick',
    `a short run (${q.seconds} s per wrk run, ${q.rounds} round, ${formatSize(q.artifactSize)} large artifacts, a ${formatSize(q.rssSize)} RSS upload)`,
  );

export const TURBOREPO_USAGE = `Usage: ./node_modules/.bin/node bench/turborepo.ts [options]

The Turborepo remote cache API (/v8/artifacts) of hoard against turborepo-remote-cache (the
npm devDependency, local-disk storage), side by side in one run, both taking one bearer
token: ${formatSize(d.smallSize)} GETs and PUTs by wrk, ${formatSize(d.artifactSize)} PUTs by a Node client and GETs by wrk,
and each server's RSS growth during one ${formatSize(d.rssSize)} upload. Needs wrk for the GETs and the
small PUTs.

Options:
${TURBOREPO_OPTIONS_HELP}  -h, --help                     print this and exit
`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(argv, TURBOREPO_USAGE, [TURBOREPO_OPTIONS], async () => {
    process.stdout.write(renderSection(await runTurborepoBench(parseTurborepoArgs(argv))));
  });
}
