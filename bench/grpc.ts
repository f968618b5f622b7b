// gRPC benchmark: REAPI CAS and ByteStream (BatchUpdateBlobs, FindMissingBlobs, ByteStream
// Write and Read) against hoard (or, with --workers 1,2, one hoard per worker count) and,
// one after the other in the same run, hoard from an earlier checkout (--hoard-baseline
// DIR) and bazel-remote (--bazel-remote PATH); then the Write ceilings (a server whose
// store keeps nothing, the store alone) that hoard's Write figure is read against. The
// generator runs in this process: by default a lean client straight on node:http2
// (lib/grpc-h2-load.ts), or with --client grpc-js the grpc-js one (pre-encoded requests,
// identity (de)serializers); its CPU share is reported beside every figure.
//
//   ./node_modules/.bin/node bench/grpc.ts [--bs-count 10000] [--client h2|grpc-js] [--workers 1,2]
//     [--bazel-remote PATH] [--hoard-baseline DIR] [--quick]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { casKey } from '../src/core/keys.ts';
import { openDiskStore } from '../src/storage/disk/disk-store.ts';
import { hoardArgsOption, numberOption, runScript, UsageError, usageLine, workersOption } from './lib/args.ts';
import { blobFamily, type BlobFamily } from './lib/blobs.ts';
import { CORES, type CpuShares } from './lib/cpu.ts';
import { H2BenchClient } from './lib/grpc-h2-load.ts';
import { BenchClient, type Digest } from './lib/grpc-load.ts';
import { measure, warn } from './lib/measure.ts';
import { formatNumber, hoardsOf } from './lib/report.ts';
import { formatSize, newSection, ratioGoal, renderSection, type Section, thresholdGoal } from './lib/section.ts';
import {
  DISCARDING,
  type HoardCheckout,
  hoardCheckout,
  spreadNote,
  startBazelRemote,
  startDiscardingGrpcServer,
  startHoard,
  VERIFYING,
  type Target,
} from './lib/targets.ts';
import { HOARD } from './lib/target-names.ts';

/** The workloads: BatchUpdateBlobs, FindMissingBlobs (of blobs the batches uploaded), ByteStream Write, then Read. */
export const GRPC_PARTS = ['batch', 'fmb', 'write', 'read'] as const;
export type GrpcPart = (typeof GRPC_PARTS)[number];

export interface GrpcBenchOptions {
  readonly fmbCalls: number;
  readonly fmbDigests: number;
  readonly fmbConcurrency: number;
  readonly batchCalls: number;
  readonly batchBlobs: number;
  readonly batchSize: number;
  readonly batchConcurrency: number;
  readonly bsCount: number;
  readonly bsSize: number;
  readonly bsConcurrency: number;
  readonly channels: number;
  /** Client HTTP/2 receive window (bytes); 1 MiB like Bazel's grpc-java. */
  readonly window: number;
  /** The generator: 'h2', the lean node:http2 client (default), or 'grpc-js'. */
  readonly client: 'h2' | 'grpc-js';
  readonly bazelRemote?: string;
  /** An earlier checkout of hoard, measured beside this one as hoard@<commit>. */
  readonly hoardBaseline?: HoardCheckout;
  readonly hoardArgs: readonly string[];
  /** One hoard per worker count (`hoard serve --workers N`), side by side; without, one `hoard` with its default. */
  readonly workers?: readonly number[];
  /**
   * Which workloads are measured. FindMissingBlobs asks for blobs the batches uploaded and
   * Reads read what the Writes stored: those run (unmeasured) when only the later is asked.
   */
  readonly parts: readonly GrpcPart[];
  /** Measure the Write ceilings (servers that keep nothing, the store alone) when Writes are measured. */
  readonly ceilings: boolean;
}

/** hoard's ByteStream Write goal (128 KiB blobs, 32 streams), writes/s. */
const WRITE_GOAL = 2500;

export const GRPC_DEFAULTS: GrpcBenchOptions = {
  fmbCalls: 3000,
  fmbDigests: 1000,
  fmbConcurrency: 8,
  batchCalls: 200,
  batchBlobs: 100,
  batchSize: 4096,
  batchConcurrency: 8,
  bsCount: 10_000,
  bsSize: 128 * 1024,
  bsConcurrency: 32,
  channels: 1,
  window: 2 ** 20,
  client: 'h2',
  hoardArgs: [],
  parts: GRPC_PARTS,
  ceilings: true,
};
export const GRPC_QUICK: Partial<GrpcBenchOptions> = { fmbCalls: 40, batchCalls: 5, bsCount: 200 };

/** What both generators offer. */
type LoadClient = Pick<H2BenchClient, 'findMissing' | 'batchUpdate' | 'write' | 'read' | 'close'>;

export async function runGrpcBench(o: GrpcBenchOptions, log: (line: string) => void = console.error): Promise<Section> {
  const s = newSection('gRPC (REAPI CAS + ByteStream)');
  // Over more than one connection the workload says so: spread over request threads, it is another workload.
  const conn = o.channels > 1 ? `, ${o.channels} conn` : '';
  const w = {
    fmb: `FindMissingBlobs ${o.fmbDigests} digests, ${o.fmbConcurrency} in flight${conn}`,
    batch: `BatchUpdateBlobs ${o.batchBlobs}×${formatSize(o.batchSize)}, ${o.batchConcurrency} in flight${conn}`,
    write: `ByteStream Write ${formatSize(o.bsSize)}, ${o.bsConcurrency} streams${conn}`,
    read: `ByteStream Read ${formatSize(o.bsSize)}, ${o.bsConcurrency} streams${conn}`,
  };
  const starters: (() => Promise<Target>)[] = (o.workers ?? [undefined]).map(
    (workers) => () => startHoard({ extraArgs: o.hoardArgs, workers }),
  );
  const baseline = o.hoardBaseline;
  if (baseline) starters.push(() => startHoard({ extraArgs: o.hoardArgs, checkout: baseline }));
  if (o.bazelRemote) starters.push(() => startBazelRemote(o.bazelRemote as string));
  const small = blobFamily(o.batchSize);
  const big = blobFamily(o.bsSize);
  for (const start of starters) {
    let target: Target;
    try {
      target = await start();
    } catch (err) {
      s.notes.push(`a server did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
      continue;
    }
    log(`grpc: ${target.describe}`);
    s.notes.push(`${target.name}: ${target.describe}`);
    const client = loadClient(o, target);
    try {
      await benchTarget(target, client, o, s, w, small, big, log);
    } catch (err) {
      s.notes.push(`${target.name}: run failed: ${(err as Error).message.split('\n')[0]}`);
    } finally {
      client.close();
      await target.stop();
    }
  }
  const writes = o.parts.includes('write');
  if (writes && o.ceilings && o.bsCount > 0) {
    await benchWriteCeiling(o, s, w.write, big, log, false);
    await benchWriteCeiling(o, s, w.write, big, log, true);
    await benchStoreAlone(o, s, w.write, big, log);
  }
  // Each hoard under test on its own (when none ran, "hoard": not measured).
  const hoards = hoardsOf(s.rows);
  if (writes)
    for (const name of hoards.length ? hoards : [HOARD]) {
      if (o.ceilings && o.bsCount > 0) noteWriteParts(s, w.write, o.bsSize, name);
      const hoardWrite = s.rows.find((r) => r.workload === w.write && r.target === name);
      const value = hoardWrite && !hoardWrite.warning ? hoardWrite.value : undefined;
      thresholdGoal(s, `${w.write} (${name})`, value, 'writes/s', { min: WRITE_GOAL });
    }
  const howToRun = 'give --bazel-remote PATH';
  if (o.parts.includes('fmb')) ratioGoal(s, w.fmb, 'bazel-remote', 1, howToRun);
  if (o.parts.includes('read')) ratioGoal(s, w.read, 'bazel-remote', 1, howToRun);
  s.notes.push(
    `generator: ${o.client === 'grpc-js' ? 'grpc-js' : 'a lean node:http2 gRPC client'} in the bench process over ${o.channels} HTTP/2 connection(s), receive window ${formatSize(o.window)}; its CPU is "gen".`,
  );
  const spread = spreadNote([`${o.channels} for all gRPC calls (--channels)`], o.workers, o.hoardArgs);
  if (spread) s.notes.push(spread);
  return s;
}

async function benchTarget(
  t: Target,
  client: LoadClient,
  o: GrpcBenchOptions,
  s: Section,
  w: Record<'fmb' | 'batch' | 'write' | 'read', string>,
  small: BlobFamily,
  big: BlobFamily,
  log: (line: string) => void,
): Promise<void> {
  const has = (p: GrpcPart) => o.parts.includes(p);
  if (has('batch') || has('fmb')) await benchBatchAndFmb(t, client, o, s, w, small, log);
  if (!has('write') && !has('read')) return;

  // ByteStream Write then Read of the same distinct blobs.
  const digests = await benchWrite(t, client, o, s, w.write, big, log, '', has('write'));
  if (!has('read')) return;
  const read = await measure(
    o.bsCount,
    o.bsConcurrency,
    t.pids,
    async (i) => (await client.read(digests[i] as Digest)) === o.bsSize,
  );
  s.rows.push({
    workload: w.read,
    target: t.name,
    value: read.perSecond,
    unit: 'reads/s',
    cpu: read.cpu,
    detail: `${((read.perSecond * o.bsSize) / 1e6).toFixed(0)} MB/s, p50 ${read.p50.toFixed(1)} ms, p95 ${read.p95.toFixed(1)} ms`,
    warning: warn(read),
  });
  log(`grpc: ${t.name} ${w.read}: ${Math.round(read.perSecond)} reads/s`);
}

/** BatchUpdateBlobs of distinct 4 KiB blobs, then FindMissingBlobs of half of them and as many never uploaded. */
async function benchBatchAndFmb(
  t: Target,
  client: LoadClient,
  o: GrpcBenchOptions,
  s: Section,
  w: Record<'fmb' | 'batch', string>,
  small: BlobFamily,
  log: (line: string) => void,
): Promise<void> {
  // BatchUpdateBlobs: distinct 4 KiB blobs, batchBlobs per call; bodies made before timing.
  const batches = Array.from({ length: o.batchCalls }, (_, c) =>
    Array.from({ length: o.batchBlobs }, (_, k) => {
      const i = c * o.batchBlobs + k;
      return { digest: { hash: small.hash(i), sizeBytes: o.batchSize }, data: small.bytes(i) };
    }),
  );
  const batch = await measure(
    o.batchCalls,
    o.batchConcurrency,
    t.pids,
    async (c) => (await client.batchUpdate(batches[c] ?? [])) === 0,
  );
  if (o.parts.includes('batch')) {
    s.rows.push({
      workload: w.batch,
      target: t.name,
      value: batch.perSecond * o.batchBlobs,
      unit: 'blobs/s',
      cpu: batch.cpu,
      detail: `${batch.perSecond.toFixed(0)} calls/s, p95 ${batch.p95.toFixed(1)} ms`,
      warning: warn(batch),
    });
    log(`grpc: ${t.name} ${w.batch}: ${Math.round(batch.perSecond * o.batchBlobs)} blobs/s`);
  }
  if (!o.parts.includes('fmb')) return;

  // FindMissingBlobs: half the digests uploaded above (present), half never uploaded.
  const uploaded = batches.flat().map((b) => b.digest);
  const requests = Array.from({ length: 8 }, (_, r) => {
    const digests: Digest[] = [];
    for (let k = 0; k < o.fmbDigests; k++) {
      const present = k % 2 === 0 && uploaded.length > 0;
      digests.push(
        present
          ? (uploaded[(r * o.fmbDigests + k) % uploaded.length] as Digest)
          : { hash: randomBytes(32).toString('hex'), sizeBytes: 4096 },
      );
    }
    return {
      req: H2BenchClient.findMissingRequest(digests),
      missing: digests.filter((_, k) => !(k % 2 === 0 && uploaded.length > 0)).length,
    };
  });
  const fmb = await measure(o.fmbCalls, o.fmbConcurrency, t.pids, async (i) => {
    const r = requests[i % requests.length];
    return r !== undefined && (await client.findMissing(r.req)) === r.missing;
  });
  // A failed upload leaves a digest missing that the count expects present: the FindMissingBlobs figure says so.
  const uploadWarning = batch.failures ? `the uploads before it: ${warn(batch)}` : undefined;
  s.rows.push({
    workload: w.fmb,
    target: t.name,
    value: fmb.perSecond,
    unit: 'calls/s',
    cpu: fmb.cpu,
    detail: `p50 ${fmb.p50.toFixed(1)} ms, p95 ${fmb.p95.toFixed(1)} ms`,
    warning: warn(fmb) ?? uploadWarning,
  });
  log(`grpc: ${t.name} ${w.fmb}: ${Math.round(fmb.perSecond)} calls/s`);
}

function loadClient(o: GrpcBenchOptions, t: Target): LoadClient {
  const target = t.grpcTarget as string;
  return o.client === 'grpc-js'
    ? new BenchClient(target, o.channels, o.window)
    : new H2BenchClient(target, o.channels, o.window);
}

/**
 * ByteStream Write of bsCount distinct blobs; returns their digests. With `record` false
 * they are only uploaded (for the Reads): no row, but a failure throws.
 */
async function benchWrite(
  t: Target,
  client: LoadClient,
  o: GrpcBenchOptions,
  s: Section,
  workload: string,
  big: BlobFamily,
  log: (line: string) => void,
  note = '',
  record = true,
): Promise<Digest[]> {
  const digests = Array.from({ length: o.bsCount }, (_, i) => ({ hash: big.hash(i), sizeBytes: o.bsSize }));
  const buffers = Array.from({ length: o.bsConcurrency }, () => big.bytes(0));
  const write = await measure(o.bsCount, o.bsConcurrency, t.pids, async (i, worker) => {
    // A worker has one call in flight, and the lean client sends the buffer itself (no
    // copy) until the call ends: one buffer per worker.
    const buf = big.fill(buffers[worker] as Buffer, i);
    return (await client.write(digests[i] as Digest, buf)) === o.bsSize;
  });
  if (!record) {
    if (write.failures) throw new Error(`the uploads for the Reads: ${warn(write)}`);
    return digests;
  }
  s.rows.push({
    workload,
    target: t.name,
    value: write.perSecond,
    unit: 'writes/s',
    cpu: write.cpu,
    detail: `${note}${((write.perSecond * o.bsSize) / 1e6).toFixed(0)} MB/s, p50 ${write.p50.toFixed(1)} ms, p95 ${write.p95.toFixed(1)} ms`,
    warning: warn(write),
  });
  log(`grpc: ${t.name} ${workload}: ${Math.round(write.perSecond)} writes/s`);
  return digests;
}

/**
 * The same Writes against hoard's gRPC server over a store that keeps nothing: what the
 * transport, the protocol handling and the generator alone allow on this machine, and
 * (`verify`) what is left once each upload's sha256 is checked on the event loop, so
 * hoard's own figure can be read against them (storing costs the rest).
 */
async function benchWriteCeiling(
  o: GrpcBenchOptions,
  s: Section,
  workload: string,
  big: BlobFamily,
  log: (line: string) => void,
  verify: boolean,
): Promise<void> {
  let target: Target;
  try {
    target = await startDiscardingGrpcServer({ verify });
  } catch (err) {
    s.notes.push(
      `the ${verify ? 'verifying' : 'discarding'} server did not start: ${(err as Error).message.split('\n')[0]}`,
    );
    return;
  }
  s.notes.push(`${target.name}: ${target.describe}`);
  const client = loadClient(o, target);
  try {
    await benchWrite(
      target,
      client,
      o,
      s,
      workload,
      big,
      log,
      verify ? 'ceiling: sha256 verified, nothing stored · ' : 'ceiling: nothing hashed or stored · ',
    );
  } catch (err) {
    s.notes.push(`${target.name}: run failed: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    client.close();
    await target.stop();
  }
}

export const STORE_ALONE = 'hoard store alone';

/**
 * The same blobs put straight into a disk store in this process (default durability, as
 * `hoard serve` opens it), bsConcurrency in flight: what verifying and durably storing
 * them allows on this machine with no network at all.
 */
async function benchStoreAlone(
  o: GrpcBenchOptions,
  s: Section,
  workload: string,
  big: BlobFamily,
  log: (line: string) => void,
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-store-alone-'));
  try {
    const store = await openDiskStore({ dir, maxBytes: 0 });
    try {
      // A fresh buffer per put: the store may keep a put's buffers (its read cache does).
      const put = await measure(
        o.bsCount,
        o.bsConcurrency,
        [],
        async (i) => (await store.put(casKey(big.hash(i)), big.bytes(i), { size: o.bsSize })) === 'created',
      );
      s.rows.push({
        workload,
        target: STORE_ALONE,
        value: put.perSecond,
        unit: 'writes/s',
        cpu: put.cpu,
        detail: `ceiling: store.put in-process, no network · ${((put.perSecond * o.bsSize) / 1e6).toFixed(0)} MB/s, p50 ${put.p50.toFixed(1)} ms, p95 ${put.p95.toFixed(1)} ms`,
        warning: warn(put),
      });
      log(`grpc: ${STORE_ALONE} ${workload}: ${Math.round(put.perSecond)} puts/s`);
    } finally {
      await store.close();
    }
  } catch (err) {
    s.notes.push(`${STORE_ALONE}: run failed: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Sets the Write figure of `hoard` (a hoard under test) against its two parts measured in
 * this run. When the parts take turns on the same cores, a Write costs the sum of their
 * times: 1/(1/a + 1/b).
 */
function noteWriteParts(s: Section, workload: string, blobBytes: number, hoard: string): void {
  const row = (target: string) => s.rows.find((r) => r.workload === workload && r.target === target && !r.warning);
  const value = (target: string) => row(target)?.value;
  const whole = value(hoard);
  const transport = value(DISCARDING);
  const verified = value(VERIFYING);
  const store = value(STORE_ALONE);
  if (!whole || !transport || !store) return;
  const serial = 1 / (1 / transport + 1 / store);
  const needed = 1 / (1 / WRITE_GOAL - 1 / transport);
  const n = formatNumber;
  s.notes.push(
    `Write in parts: the transport alone ${n(transport)}/s, the store alone ${n(store)}/s; run one after the other they allow ${n(serial)}/s, ` +
      `and ${hoard} measured ${n(whole)}/s (${(whole / serial).toFixed(2)}× that). ` +
      (needed > 0
        ? `${n(WRITE_GOAL)}/s with this transport needs a store of ≥ ${n(needed)} puts/s (${n((needed * blobBytes) / 1e6)} MB/s durable) unless the two overlap.`
        : `This transport alone is below ${n(WRITE_GOAL)}/s.`) +
      (verified
        ? ` With sha256 checked on the event loop and nothing stored, the ceiling is ${n(verified)}/s${verified < WRITE_GOAL ? `: below ${n(WRITE_GOAL)}/s before any disk work` : ''}.`
        : ''),
  );
  noteWriteCpu(s, hoard, cpuMsPer(row(hoard)), cpuMsPer(row(VERIFYING)));
}

/** The machine's CPU per operation of a row, in ms: every busy share (server, generator, the rest) over its rate. */
function cpuMsPer(r: { readonly value: number; readonly cpu?: CpuShares } | undefined): number | undefined {
  if (!r?.cpu || r.value <= 0) return undefined;
  return ((r.cpu.server + r.cpu.generator + r.cpu.other) * CORES * 1000) / r.value;
}

/**
 * Whether the Write goal fits in this machine's cores at all: a Write's CPU (server,
 * generator and the kernel's work for both) times the goal's rate cannot exceed the cores,
 * however well the work overlaps.
 */
function noteWriteCpu(s: Section, hoard: string, whole: number | undefined, verified: number | undefined): void {
  if (whole === undefined) return;
  const budget = (CORES * 1000) / WRITE_GOAL;
  const ms = (x: number) => x.toFixed(2);
  s.notes.push(
    `CPU per Write (the whole machine's, generator included): ${hoard} ${ms(whole)} ms, so ${CORES} cores allow at most ${formatNumber((CORES * 1000) / whole)}/s even all busy; ` +
      `${formatNumber(WRITE_GOAL)}/s needs ≤ ${ms(budget)} ms.` +
      (verified === undefined
        ? ''
        : verified >= budget
          ? ` The verifying ceiling (transport, generator, sha256) alone takes ${ms(verified)} ms: over that before anything is stored.`
          : ` The verifying ceiling (transport, generator, sha256) takes ${ms(verified)} ms of it, which leaves the store ${ms(budget - verified)} ms per Write against the ${ms(whole - verified)} ms it takes now.`),
  );
}

const GRPC_NUMBERS = [
  'fmb-calls',
  'fmb-digests',
  'fmb-concurrency',
  'batch-calls',
  'batch-blobs',
  'batch-concurrency',
  'bs-count',
  'bs-concurrency',
  'channels',
  'window',
] as const;
export const GRPC_OPTIONS = {
  ...(Object.fromEntries(GRPC_NUMBERS.map((n) => [n, { type: 'string' as const }])) as Record<
    (typeof GRPC_NUMBERS)[number],
    { type: 'string' }
  >),
  'bazel-remote': { type: 'string' as const },
  'hoard-baseline': { type: 'string' as const },
  client: { type: 'string' as const },
  'hoard-arg': { type: 'string' as const, multiple: true },
  workers: { type: 'string' as const },
  quick: { type: 'boolean' as const },
};

export function parseGrpcArgs(argv: readonly string[]): GrpcBenchOptions {
  const { values } = parseArgs({ args: [...argv], options: GRPC_OPTIONS, strict: false });
  const b = { ...GRPC_DEFAULTS, ...(values.quick ? GRPC_QUICK : {}) };
  const num = (k: (typeof GRPC_NUMBERS)[number], d: number) => numberOption(k, values[k], d);
  return {
    ...b,
    fmbCalls: num('fmb-calls', b.fmbCalls),
    fmbDigests: num('fmb-digests', b.fmbDigests),
    fmbConcurrency: num('fmb-concurrency', b.fmbConcurrency),
    batchCalls: num('batch-calls', b.batchCalls),
    batchBlobs: num('batch-blobs', b.batchBlobs),
    batchConcurrency: num('batch-concurrency', b.batchConcurrency),
    bsCount: num('bs-count', b.bsCount),
    bsConcurrency: num('bs-concurrency', b.bsConcurrency),
    channels: num('channels', b.channels),
    window: num('window', b.window),
    client:
      values.client === undefined
        ? b.client
        : values.client === 'grpc-js' || values.client === 'h2'
          ? values.client
          : badClient(values.client),
    bazelRemote: typeof values['bazel-remote'] === 'string' ? values['bazel-remote'] : undefined,
    hoardBaseline: typeof values['hoard-baseline'] === 'string' ? hoardCheckout(values['hoard-baseline']) : undefined,
    hoardArgs: hoardArgsOption(values['hoard-arg'], values.workers),
    workers: workersOption(values.workers),
  };
}

function badClient(v: unknown): never {
  throw new UsageError(`--client takes h2 or grpc-js, got ${JSON.stringify(v)}`);
}

const d = GRPC_DEFAULTS;
/** The options of this script, as --help prints them (bench/run.ts prints them too). */
export const GRPC_OPTIONS_HELP =
  usageLine('--fmb-calls N', `FindMissingBlobs calls (default ${d.fmbCalls})`) +
  usageLine('--fmb-digests N', `digests per FindMissingBlobs call (default ${d.fmbDigests})`) +
  usageLine('--fmb-concurrency N', `FindMissingBlobs calls in flight (default ${d.fmbConcurrency})`) +
  usageLine('--batch-calls N', `BatchUpdateBlobs calls (default ${d.batchCalls})`) +
  usageLine('--batch-blobs N', `${formatSize(d.batchSize)} blobs per BatchUpdateBlobs call (default ${d.batchBlobs})`) +
  usageLine('--batch-concurrency N', `BatchUpdateBlobs calls in flight (default ${d.batchConcurrency})`) +
  usageLine(
    '--bs-count N',
    `ByteStream Writes, then as many Reads, of ${formatSize(d.bsSize)} (default ${d.bsCount})`,
  ) +
  usageLine('--bs-concurrency N', `ByteStream streams in flight (default ${d.bsConcurrency})`) +
  usageLine('--channels N', `HTTP/2 connections of the generator (default ${d.channels})`) +
  usageLine('--window BYTES', `the generator's HTTP/2 receive window (default ${d.window})`) +
  usageLine('--client h2|grpc-js', `the generator: a lean node:http2 client or grpc-js (default ${d.client})`) +
  usageLine('--bazel-remote PATH', 'also measure this bazel-remote binary, side by side') +
  usageLine(
    '--hoard-baseline DIR',
    'also measure `hoard serve` of this checkout (a git worktree of an earlier commit, with node_modules) as hoard@<commit>',
  ) +
  usageLine('--hoard-arg ARG', 'an extra argument for `hoard serve` (repeatable)') +
  usageLine(
    '--workers LIST',
    'measure one hoard per worker count, side by side, e.g. 1,2 (`hoard serve --workers N`, named "hoard (N workers)"; auto = one per core); default one hoard with its default (auto). Calls reach request threads by connection: see --channels',
  ) +
  usageLine('--quick', `a short run (${GRPC_QUICK.fmbCalls} FindMissingBlobs calls, ${GRPC_QUICK.bsCount} Writes)`);

export const GRPC_USAGE = `Usage: ./node_modules/.bin/node bench/grpc.ts [options]

REAPI CAS and ByteStream throughput of hoard (one per worker count with --workers), an
earlier hoard (with --hoard-baseline) and bazel-remote (with --bazel-remote), one after the
other in one run, with the generator's CPU share beside every figure.

Options:
${GRPC_OPTIONS_HELP}  -h, --help                     print this and exit
`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(argv, GRPC_USAGE, [GRPC_OPTIONS], async () => {
    const options = parseGrpcArgs(argv);
    process.stdout.write(renderSection(await runGrpcBench(options)));
  });
}
