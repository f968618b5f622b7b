// S3 shared-tier benchmark: hoard with a bucket behind its disk (`--s3-bucket`, a private
// single-host Ceph RGW on memstore, test/helpers/ceph-rgw.ts) against the bucket read
// straight with the AWS SDK from this process (the ceiling of any server in front of it), and
// against hoard without a bucket. Workloads, each for --rounds rounds with fresh objects every
// round and the order of the two sides alternating (a figure is the median round):
//
// - read-through: 4 KiB and 64 MiB blobs that are in the bucket but not on the reading
//   server's disk (written by another hoard, which then drained its upload queue), read over
//   HTTP from a hoard whose every GET is a local miss, against GetObject of the same objects;
// - write-behind: the same blobs PUT into that other hoard, timed until its upload queue is
//   empty, against PutObject of as many blobs with the SDK;
// - local hits: 4 KiB GETs (wrk) of blobs on the disk of a hoard with a bucket and of one
//   without;
// - FindMissingBlobs of 1,000 digests (gRPC), half on the server's disk and half only in the
//   bucket (never asked before: one HeadObject each), against the same call when all 1,000
//   are on its disk, and the first kind asked again (the bucket's answers remembered).
//
//   ./node_modules/.bin/node bench/s3.ts [--rounds 3] [--seconds 10] [--small-count 2000] [--quick]
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { casKey } from '../src/core/keys.ts';
import { objectKey } from '../src/storage/s3/object-key.ts';
import {
  CEPH_INSTALL_HINT,
  cephInstalled,
  type RgwFixture,
  startCephRgw,
  uniqueBucketName,
} from '../test/helpers/ceph-rgw.ts';
import { hoardArgsOption, numberOption, runScript, sizeOption, usageLine } from './lib/args.ts';
import { blobFamily, type BlobFamily } from './lib/blobs.ts';
import { cores, startCpuSampler } from './lib/cpu.ts';
import { H2BenchClient } from './lib/grpc-h2-load.ts';
import type { Digest } from './lib/grpc-load.ts';
import { httpRequest, keepAliveAgent, prefill } from './lib/http-load.ts';
import { measure, warn, type Measured } from './lib/measure.ts';
import { pool } from './lib/pool.ts';
import { formatNumber, type Row } from './lib/report.ts';
import { formatSize, newSection, ratioGoal, renderSection, type Section } from './lib/section.ts';
import { HOARD } from './lib/target-names.ts';
import { startHoard, type Target } from './lib/targets.ts';
import { getScript, runWrk, wrkBinary } from './lib/wrk.ts';

/** The ceilings and the other setups, as the tables name them. */
export const SDK_GET = 'S3 GetObject (SDK)';
export const SDK_PUT = 'S3 PutObject (SDK)';
export const NO_BUCKET = 'hoard, no bucket';
export const ALL_LOCAL = 'hoard, all 1000 local';
export const ASKED_AGAIN = 'hoard, same call again';

export interface S3BenchOptions {
  readonly rounds: number;
  /** 4 KiB blobs read through (and written behind) per round. */
  readonly smallCount: number;
  readonly smallSize: number;
  readonly smallConcurrency: number;
  readonly largeSize: number;
  readonly largeCount: number;
  readonly largeConcurrency: number;
  /** Length of each wrk run of local hits. */
  readonly seconds: number;
  readonly connections: number;
  readonly wrkThreads: number;
  readonly getBlobs: number;
  /** FindMissingBlobs calls per round and kind. */
  readonly fmbCalls: number;
  readonly fmbDigests: number;
  readonly fmbConcurrency: number;
  readonly hoardArgs: readonly string[];
}

export const S3_DEFAULTS: S3BenchOptions = {
  rounds: 3,
  smallCount: 2000,
  smallSize: 4096,
  smallConcurrency: 16,
  largeSize: 64 * 2 ** 20,
  largeCount: 4,
  largeConcurrency: 2,
  seconds: 10,
  connections: 32,
  wrkThreads: 2,
  getBlobs: 2000,
  fmbCalls: 20,
  fmbDigests: 1000,
  fmbConcurrency: 1,
  hoardArgs: [],
};

export const S3_QUICK: Partial<S3BenchOptions> = {
  rounds: 1,
  smallCount: 200,
  largeSize: 8 * 2 ** 20,
  largeCount: 2,
  seconds: 1,
  getBlobs: 1000,
  fmbCalls: 4,
};

/** The goals the shared tier is measured against (bench/RESULTS.md). */
const READ_THROUGH_GOAL = 0.8;
const FMB_GOAL_TIMES = 4;
/** Size of the blobs that are only in the bucket for FindMissingBlobs (a HeadObject does not depend on it). */
const FMB_BLOB_SIZE = 64;
const PREFIX = 'hoard';

type Workload = 'small' | 'large' | 'smallPut' | 'largePut' | 'hits' | 'fmb';

/** A measurement with the bucket daemons' CPU meanwhile, in cores. */
type Timed = Measured & { readonly bucketCores: number };

/** The bucket and what reaches it. */
interface Bucket {
  readonly rgw: RgwFixture;
  readonly name: string;
  readonly client: S3Client;
  readonly agent: http.Agent;
  /** radosgw, ceph-osd, ceph-mon. */
  readonly pids: readonly number[];
  /** `hoard serve` flags naming the bucket (credentials in a config file). */
  readonly hoardArgs: readonly string[];
  dispose(): Promise<void>;
}

export async function runS3Bench(o: S3BenchOptions, log: (line: string) => void = console.error): Promise<Section> {
  const small = formatSize(o.smallSize);
  const large = formatSize(o.largeSize);
  const w: Record<Workload, string> = {
    small: `${small} read-through GET, ${o.smallConcurrency} in flight`,
    large: `${large} read-through GET, ${o.largeConcurrency} streams`,
    smallPut: `${small} PUT, written behind until the queue is empty, ${o.smallConcurrency} in flight`,
    largePut: `${large} PUT, written behind until the queue is empty, ${o.largeConcurrency} streams`,
    hits: `${small} GET local hits (${o.connections} conn, wrk)`,
    fmb: `FindMissingBlobs ${o.fmbDigests} digests, ${o.fmbConcurrency} in flight`,
  };
  const s = newSection('S3 shared tier (--s3-bucket, Ceph RGW)');
  if (o.fmbDigests > o.getBlobs)
    throw new Error(`--fmb-digests (${o.fmbDigests}) must not exceed --get-blobs (${o.getBlobs})`);
  if (!cephInstalled()) {
    s.notes.push(`Ceph is not installed: nothing measured (${CEPH_INSTALL_HINT})`);
    return s;
  }
  const wrk = wrkBinary() !== undefined;
  if (!wrk) s.notes.push('wrk not installed: the local-hit figures skipped (apt-get install -y wrk)');
  log('s3: starting the Ceph RGW…');
  const bucket = await openBucket();
  s.notes.push(
    `bucket: a private single-host Ceph cluster (one ceph-mon, one ceph-osd on memstore: objects in RAM, one replica) behind radosgw at ${bucket.rgw.endpoint}, path-style, on this machine (test/fixtures/ceph-rgw); its daemons' CPU is in each figure's details, and in "oth" unless they are the server`,
  );
  const rounds = new Map<string, Row[]>();
  const record = (r: Row) => {
    const key = `${r.workload}\0${r.target}`;
    rounds.set(key, [...(rounds.get(key) ?? []), r]);
    log(
      `s3: ${r.target} · ${r.workload}: ${formatNumber(r.value)} ${r.unit}${r.warning ? ` (NOT CLEAN: ${r.warning})` : ''}`,
    );
  };
  const servers: Target[] = [];
  try {
    // writer: the hoard whose uploads put the round's blobs into the bucket; reader: the hoard
    // under test (reads through, local hits, FindMissingBlobs); plain: the same without a bucket.
    const writer = await startHoard({ grpc: false, extraArgs: [...bucket.hoardArgs, ...o.hoardArgs] });
    servers.push(writer);
    const reader = await startHoard({ grpc: true, extraArgs: [...bucket.hoardArgs, ...o.hoardArgs] });
    servers.push(reader);
    const plain = await startHoard({ grpc: false, extraArgs: o.hoardArgs });
    servers.push(plain);
    const shown = (t: Target) => t.describe.replace(/--config \S+/, '--config <file with the bucket credentials>');
    s.notes.push(
      `${HOARD}: the server under test, ${shown(reader)}. The blobs it reads through were written by a second, identical server (the "written behind" rows) after which that server's upload queue was empty; the reader's disk never had them.`,
      `${NO_BUCKET}: ${shown(plain)}`,
    );
    log(`s3: ${shown(reader)}`);

    // Local hits and the local half of FindMissingBlobs: on the reader's disk (and so, once its
    // queue is empty, in the bucket too), and on the plain server's.
    const hitFamily = blobFamily(o.smallSize);
    await prefill(reader.httpUrl as string, hitFamily, 0, o.getBlobs);
    await prefill(plain.httpUrl as string, hitFamily, 0, o.getBlobs);
    await drained(reader.httpUrl as string);
    const hitPaths = Array.from({ length: o.getBlobs }, (_, i) => `/cas/${hitFamily.hash(i)}`);
    const local = Array.from({ length: o.getBlobs }, (_, i) => ({ hash: hitFamily.hash(i), sizeBytes: o.smallSize }));
    const grpc = new H2BenchClient(reader.grpcTarget as string);
    try {
      for (let round = 0; round < o.rounds; round++) {
        log(`s3: round ${round + 1} of ${o.rounds}`);
        const first = round % 2 === 0;
        const both = async (a: () => Promise<void>, b: () => Promise<void>) => {
          for (const f of first ? [a, b] : [b, a]) await f();
        };
        // Fresh blobs each round: written behind by the writer (read through afterwards), and
        // as many put with the SDK (the write ceiling).
        const smallFamily = blobFamily(o.smallSize);
        const largeFamily = blobFamily(o.largeSize);
        const written: string[] = [];
        await both(
          async () =>
            record(await writeBehind(writer, w.smallPut, smallFamily, o.smallCount, o.smallConcurrency, bucket)),
          async () =>
            record(
              await sdkPut(bucket, w.smallPut, smallFamily, o.smallCount, o.smallCount, o.smallConcurrency, written),
            ),
        );
        await both(
          async () =>
            record(await writeBehind(writer, w.largePut, largeFamily, o.largeCount, o.largeConcurrency, bucket)),
          async () =>
            record(
              await sdkPut(bucket, w.largePut, largeFamily, o.largeCount, o.largeCount, o.largeConcurrency, written),
            ),
        );
        // Read through: every GET a miss on the reader's disk; the SDK reads the same objects.
        await both(
          async () => record(await readThrough(reader, w.small, smallFamily, o.smallCount, o.smallConcurrency, bucket)),
          async () => record(await sdkGet(bucket, w.small, smallFamily, o.smallCount, o.smallConcurrency)),
        );
        await both(
          async () => record(await readThrough(reader, w.large, largeFamily, o.largeCount, o.largeConcurrency, bucket)),
          async () => record(await sdkGet(bucket, w.large, largeFamily, o.largeCount, o.largeConcurrency)),
        );
        // The SDK-put copies are no longer needed; the written-behind ones stay (on the reader's disk too).
        await deleteObjects(bucket, written);
        if (wrk)
          await both(
            async () => record(await hits(reader, HOARD, w.hits, hitPaths, o, bucket)),
            async () => record(await hits(plain, NO_BUCKET, w.hits, hitPaths, o, bucket)),
          );
        await fmbRound(reader, grpc, bucket, local, round, o, w.fmb, first, record, log);
      }
    } finally {
      grpc.close();
    }
  } finally {
    for (const t of servers) await t.stop();
    await bucket.dispose();
  }
  for (const list of rounds.values()) s.rows.push(median(list));
  judge(s, w, o, rounds);
  return s;
}

/** The Ceph RGW fixture, a bucket in it, a client of this process, and the flags and config file for hoard. */
async function openBucket(): Promise<Bucket> {
  const rgw = await startCephRgw();
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-s3-'));
  try {
    const name = await rgw.createBucket(uniqueBucketName('hoard-bench'));
    const configFile = path.join(dir, 'hoard.yaml');
    await writeFile(
      configFile,
      `s3-access-key-id: ${rgw.accessKeyId}\ns3-secret-access-key: ${rgw.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
    const client = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      // As hoard's S3Store sets them: no aws-chunked trailing checksums (RGW refuses them).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { httpAgent: agent },
    });
    const pidDir = path.join(rgw.dir, 'pids');
    const pids = readdirSync(pidDir)
      .map((f) => Number(readFileSync(path.join(pidDir, f), 'utf8').trim()))
      .filter((p) => Number.isInteger(p) && p > 0);
    return {
      rgw,
      name,
      client,
      agent,
      pids,
      hoardArgs: [
        '--config',
        configFile,
        '--s3-bucket',
        name,
        '--s3-endpoint',
        rgw.endpoint,
        '--s3-region',
        rgw.region,
        '--s3-prefix',
        PREFIX,
        '--s3-path-style',
      ],
      async dispose() {
        client.destroy();
        agent.destroy();
        await rgw.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rgw.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function objectName(hash: string): string {
  return objectKey(PREFIX, casKey(hash));
}

/** measure() with the bucket daemons' CPU sampled beside the server's. */
async function timed(
  count: number,
  concurrency: number,
  serverPids: readonly number[],
  bucket: Bucket,
  task: (i: number, worker: number) => Promise<boolean>,
  tail?: () => Promise<void>,
): Promise<Timed> {
  const bucketSampler = startCpuSampler({ serverPids: bucket.pids });
  const m = await measure(count, concurrency, serverPids, task, tail);
  return { ...m, bucketCores: cores(bucketSampler.stop().server) };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function latencyDetail(m: Timed): string {
  return `p50 ${ms(m.p50)} ms, p95 ${ms(m.p95)} ms, p99 ${ms(m.p99)} ms, max ${ms(m.max)} ms; bucket daemons ${m.bucketCores.toFixed(2)} cores`;
}

/** A row with the median latency of its run, for the goals that compare latencies. */
type TimedRow = Row & { readonly p50?: number };

/** A row of `count` blobs of `size`: objects/s for small ones, MB/s for large ones. */
function blobRow(workload: string, target: string, m: Timed, size: number, count: number): TimedRow {
  const large = size >= 2 ** 20;
  return {
    p50: m.p50,
    workload,
    target,
    value: large ? (m.perSecond * size) / 1e6 : m.perSecond,
    unit: large ? 'MB/s' : 'blobs/s',
    cpu: m.cpu,
    detail: `${count} × ${formatSize(size)} in ${m.seconds.toFixed(2)} s; ${latencyDetail(m)}`,
    warning: warn(m),
  };
}

/** The bucket tier's upload queue of the server at `url` (its /status), polled until empty. */
async function drained(url: string, timeoutMs = 300_000): Promise<void> {
  const agent = keepAliveAgent(1);
  try {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const doc = await getJson(agent, `${url}/status`);
      const tier = (doc as { store?: { tiers?: { name?: string; pending?: number }[] } }).store?.tiers?.find(
        (t) => t.name === 'bucket',
      );
      if (tier === undefined) throw new Error(`${url}/status shows no bucket tier`);
      if (tier.pending === 0) return;
      if (performance.now() > until) throw new Error(`the upload queue of ${url} did not drain in ${timeoutMs} ms`);
      await sleep(10);
    }
  } finally {
    agent.destroy();
  }
}

function getJson(agent: http.Agent, url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err as Error);
          }
        });
        res.once('error', reject);
      })
      .once('error', reject);
  });
}

/** PUTs blobs 0..count-1 of `family` into `t` over HTTP, timed until its upload queue is empty. */
async function writeBehind(
  t: Target,
  workload: string,
  family: BlobFamily,
  count: number,
  concurrency: number,
  bucket: Bucket,
): Promise<Row> {
  const agent = keepAliveAgent(concurrency);
  const buffers = Array.from({ length: concurrency }, () => family.bytes(0));
  try {
    const m = await timed(
      count,
      concurrency,
      t.pids,
      bucket,
      async (i, worker) => {
        const body = family.fill(buffers[worker] as Buffer, i);
        const r = await httpRequest(agent, `${t.httpUrl}/cas/${family.hash(i)}`, 'PUT', body);
        return r.status >= 200 && r.status < 300;
      },
      () => drained(t.httpUrl as string),
    );
    return blobRow(workload, HOARD, m, family.size, count);
  } finally {
    agent.destroy();
  }
}

/** PutObject of blobs from..from+count-1 of `family` at their object keys; their names go to `names`. */
async function sdkPut(
  bucket: Bucket,
  workload: string,
  family: BlobFamily,
  from: number,
  count: number,
  concurrency: number,
  names: string[],
): Promise<Row> {
  const buffers = Array.from({ length: concurrency }, () => family.bytes(0));
  const m = await timed(count, concurrency, bucket.pids, bucket, async (i, worker) => {
    const name = objectName(family.hash(from + i));
    names.push(name);
    const body = family.fill(buffers[worker] as Buffer, from + i);
    await bucket.client.send(
      new PutObjectCommand({ Bucket: bucket.name, Key: name, Body: body, ContentLength: body.length }),
    );
    return true;
  });
  return blobRow(workload, SDK_PUT, m, family.size, count);
}

/** GETs blobs 0..count-1 of `family` from `t` over HTTP (each a miss on its disk). */
async function readThrough(
  t: Target,
  workload: string,
  family: BlobFamily,
  count: number,
  concurrency: number,
  bucket: Bucket,
): Promise<Row> {
  const agent = keepAliveAgent(concurrency);
  try {
    const m = await timed(count, concurrency, t.pids, bucket, async (i) => {
      const r = await httpRequest(agent, `${t.httpUrl}/cas/${family.hash(i)}`, 'GET');
      return r.status === 200 && r.bytes === family.size;
    });
    return blobRow(workload, HOARD, m, family.size, count);
  } finally {
    agent.destroy();
  }
}

/** GetObject of blobs 0..count-1 of `family`, each body read to its end and counted. */
async function sdkGet(
  bucket: Bucket,
  workload: string,
  family: BlobFamily,
  count: number,
  concurrency: number,
): Promise<Row> {
  const m = await timed(count, concurrency, bucket.pids, bucket, async (i) => {
    const out = await bucket.client.send(
      new GetObjectCommand({ Bucket: bucket.name, Key: objectName(family.hash(i)) }),
    );
    let bytes = 0;
    for await (const chunk of out.Body as Readable) bytes += (chunk as Buffer).length;
    return bytes === family.size;
  });
  return blobRow(workload, SDK_GET, m, family.size, count);
}

async function deleteObjects(bucket: Bucket, names: string[]): Promise<void> {
  for (let i = 0; i < names.length; i += 1000) {
    await bucket.client.send(
      new DeleteObjectsCommand({
        Bucket: bucket.name,
        Delete: { Objects: names.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
  names.length = 0;
}

/** wrk GETs cycling over blobs on `t`'s disk. */
async function hits(
  t: Target,
  name: string,
  workload: string,
  paths: readonly string[],
  o: S3BenchOptions,
  bucket: Bucket,
): Promise<Row> {
  const bucketSampler = startCpuSampler({ serverPids: bucket.pids });
  const r = await runWrk({
    url: t.httpUrl as string,
    script: getScript(paths),
    seconds: o.seconds,
    connections: o.connections,
    threads: o.wrkThreads,
    serverPids: t.pids,
  });
  const bucketCores = cores(bucketSampler.stop().server);
  return {
    workload,
    target: name,
    value: r.perSecond,
    unit: 'req/s',
    cpu: r.cpu,
    detail: `p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms, ${r.requests} reqs; bucket daemons ${bucketCores.toFixed(2)} cores`,
    warning: r.errors ? `${r.errors} errors/non-2xx` : undefined,
  };
}

/**
 * One round of FindMissingBlobs: calls whose every other digest is on the reader's disk and
 * the rest only in the bucket (blobs put there with the SDK for this round, never asked
 * before), and calls of as many digests all on its disk, in alternating order; then the
 * first calls once more (what the server remembers of the bucket's answers).
 */
async function fmbRound(
  reader: Target,
  client: H2BenchClient,
  bucket: Bucket,
  local: readonly Digest[],
  round: number,
  o: S3BenchOptions,
  workload: string,
  first: boolean,
  record: (r: TimedRow) => void,
  log: (line: string) => void,
): Promise<void> {
  // Digest k of a call is only in the bucket when k is odd: floor(n/2) of the n digests.
  const perCall = Math.floor(o.fmbDigests / 2);
  const remote = Array.from({ length: o.fmbCalls * perCall }, () => ({
    hash: randomBytes(32).toString('hex'),
    sizeBytes: FMB_BLOB_SIZE,
  }));
  log(`s3: putting ${remote.length} blobs into the bucket only, for FindMissingBlobs`);
  const body = Buffer.alloc(FMB_BLOB_SIZE, 0x61);
  await pool(remote.length, 32, async (i) => {
    await bucket.client.send(
      new PutObjectCommand({
        Bucket: bucket.name,
        Key: objectName((remote[i] as Digest).hash),
        Body: body,
        ContentLength: body.length,
      }),
    );
  });
  // Call c: local digests from a window of the prefilled set that moves with c and the round.
  const localAt = (c: number, k: number) => local[(round * 7919 + c * o.fmbDigests + k) % local.length] as Digest;
  const mixed = Array.from({ length: o.fmbCalls }, (_, c) => {
    const digests: Digest[] = [];
    for (let k = 0; k < o.fmbDigests; k++)
      digests.push(k % 2 === 1 ? (remote[c * perCall + (k >> 1)] as Digest) : localAt(c, k));
    return H2BenchClient.findMissingRequest(digests);
  });
  const allLocal = Array.from({ length: o.fmbCalls }, (_, c) =>
    H2BenchClient.findMissingRequest(Array.from({ length: o.fmbDigests }, (_, k) => localAt(c, k))),
  );
  const run = async (name: string, requests: readonly Buffer[]) => {
    const m = await timed(requests.length, o.fmbConcurrency, reader.pids, bucket, async (i) => {
      // Every digest is present somewhere: none may come back missing.
      return (await client.findMissing(requests[i] as Buffer)) === 0;
    });
    record({
      p50: m.p50,
      workload,
      target: name,
      value: m.perSecond,
      unit: 'calls/s',
      cpu: m.cpu,
      detail: `${requests.length} calls; ${latencyDetail(m)}`,
      warning: warn(m),
    });
  };
  const a = () => run(HOARD, mixed);
  const b = () => run(ALL_LOCAL, allLocal);
  for (const f of first ? [a, b] : [b, a]) await f();
  await run(ASKED_AGAIN, mixed);
}

/** The median round (the lower middle one for an even count), every round's figure in its detail. */
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

/** The median latency of the run a row (the median round's) came from. */
function p50Of(r: Row | undefined): number | undefined {
  return (r as TimedRow | undefined)?.p50;
}

function judge(s: Section, w: Record<Workload, string>, o: S3BenchOptions, rounds: Map<string, Row[]>): void {
  const row = (workload: string, target: string) => s.rows.find((r) => r.workload === workload && r.target === target);
  ratioGoal(s, w.small, SDK_GET, READ_THROUGH_GOAL);
  ratioGoal(s, w.large, SDK_GET, READ_THROUGH_GOAL);
  const smallHoard = p50Of(row(w.small, HOARD));
  const smallSdk = p50Of(row(w.small, SDK_GET));
  if (smallHoard !== undefined && smallSdk !== undefined)
    s.notes.push(
      `${w.small}: p50 latency ${ms(smallHoard)} ms through hoard against ${ms(smallSdk)} ms straight from the bucket (${(smallHoard / smallSdk).toFixed(2)}×; the rate goal above is the same comparison at equal concurrency).`,
    );
  // Local hits: the bucket's server within the spread of the bucketless one's rounds.
  const withBucket = row(w.hits, HOARD);
  const plainRounds = rounds.get(`${w.hits}\0${NO_BUCKET}`) ?? [];
  if (withBucket && plainRounds.length) {
    const values = plainRounds.map((r) => r.value);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const suspect =
      withBucket.warning || plainRounds.some((r) => r.warning)
        ? ' — not judged: a run was not clean'
        : plainRounds.length < 2
          ? ' — not judged: one round has no spread (--rounds 3)'
          : '';
    s.goals.push({
      text: `${w.hits}: ${HOARD} (with a bucket) ${formatNumber(withBucket.value)} req/s, median of ${rounds.get(`${w.hits}\0${HOARD}`)?.length ?? 0} rounds, against ${NO_BUCKET}'s rounds ${formatNumber(lo)}–${formatNumber(hi)} req/s (goal: at or above the lowest of them)${suspect}`,
      met: suspect ? undefined : withBucket.value >= lo,
    });
  } else if (wrkBinary()) s.goals.push({ text: `${w.hits}: not measured`, met: undefined });
  // FindMissingBlobs: the call with half in the bucket within FMB_GOAL_TIMES the all-local one.
  const fmb = row(w.fmb, HOARD);
  const fmbLocal = row(w.fmb, ALL_LOCAL);
  const p50 = p50Of(fmb);
  const p50Local = p50Of(fmbLocal);
  if (fmb && fmbLocal && p50 !== undefined && p50Local !== undefined && p50Local > 0) {
    const suspect = fmb.warning || fmbLocal.warning;
    const ratio = p50 / p50Local;
    s.goals.push({
      text: `${w.fmb}, half only in the bucket (never asked before): p50 ${ms(p50)} ms against ${ms(p50Local)} ms all local → ${ratio.toFixed(2)}× (goal ≤ ${FMB_GOAL_TIMES}×)${suspect ? ' — not judged: a run was not clean' : ''}`,
      met: suspect ? undefined : ratio <= FMB_GOAL_TIMES,
    });
  } else s.goals.push({ text: `${w.fmb}: not measured`, met: undefined });
  s.ratios = [
    { h: HOARD, below: SDK_GET },
    { h: HOARD, below: SDK_PUT },
    { h: HOARD, below: NO_BUCKET },
    { h: HOARD, below: ALL_LOCAL },
    { h: HOARD, below: ASKED_AGAIN },
  ];
  s.notes.push(
    `Rows: "${HOARD}" is the server with the bucket. Read-through: ${o.smallCount} × ${formatSize(o.smallSize)} and ${o.largeCount} × ${formatSize(o.largeSize)} blobs a round, fresh each round, each read once over HTTP (keep-alive, node:http) from a hoard whose disk did not have it: every GET a local miss streamed from the bucket while it fills the disk and is hashed; "${SDK_GET}" reads the same objects with GetObject (AWS SDK v3, keep-alive) from this process. Written behind: the round's blobs PUT into a second hoard with the same bucket, timed from the first PUT until its /status shows an empty upload queue (its uploader: 16 at a time, an existence check then a conditional PutObject, or a HeadObject and a multipart upload of 8 MiB parts above 8 MiB); "${SDK_PUT}" puts as many other blobs with PutObject (one request each).`,
    `Local hits: wrk cycling over ${o.getBlobs} blobs on each server's disk (put before the rounds; the bucket server's queue was empty before the first run) for ${o.seconds} s a round.`,
    `FindMissingBlobs (gRPC, a lean node:http2 client, 1 connection): "${HOARD}": every other digest on the server's disk, the rest (${formatSize(FMB_BLOB_SIZE)} blobs put into the bucket with the SDK for the round) only in the bucket and never asked before, so one HeadObject each (at most 32 in flight per call); "${ALL_LOCAL}": the same number of digests all on its disk; "${ASKED_AGAIN}": the first kind's calls once more, right after. Every call must answer none missing. ${o.fmbCalls} calls a round and kind.`,
    `Order: all servers and the bucket ran throughout, idle but for the one measured; ${o.rounds} round${o.rounds === 1 ? '' : 's'}, who goes first alternating; a figure is the median round. Latencies are per request, measured by the client from sending to the last byte.`,
    'MB = 10^6 bytes. CPU shares are of the whole machine (all cores = 100%): gen = this process (the client; the SDK rows are all client), srv = the server measured (the bucket daemons for the SDK rows), oth = everything else (the bucket daemons for hoard rows).',
  );
}

export const S3_OPTIONS = {
  rounds: { type: 'string' },
  'small-count': { type: 'string' },
  'small-concurrency': { type: 'string' },
  'large-size': { type: 'string' },
  'large-count': { type: 'string' },
  'large-concurrency': { type: 'string' },
  seconds: { type: 'string' },
  connections: { type: 'string' },
  'wrk-threads': { type: 'string' },
  'get-blobs': { type: 'string' },
  'fmb-calls': { type: 'string' },
  'fmb-digests': { type: 'string' },
  'fmb-concurrency': { type: 'string' },
  'hoard-arg': { type: 'string', multiple: true },
  quick: { type: 'boolean' },
} as const;

export function parseS3Args(argv: readonly string[]): S3BenchOptions {
  const { values } = parseArgs({ args: [...argv], options: S3_OPTIONS, strict: false });
  const b = { ...S3_DEFAULTS, ...(values.quick ? S3_QUICK : {}) };
  const num = (name: keyof typeof S3_OPTIONS, fallback: number) => numberOption(name, values[name], fallback);
  return {
    ...b,
    rounds: num('rounds', b.rounds),
    smallCount: num('small-count', b.smallCount),
    smallConcurrency: num('small-concurrency', b.smallConcurrency),
    largeSize: sizeOption('large-size', values['large-size'], b.largeSize),
    largeCount: num('large-count', b.largeCount),
    largeConcurrency: num('large-concurrency', b.largeConcurrency),
    seconds: num('seconds', b.seconds),
    connections: num('connections', b.connections),
    wrkThreads: num('wrk-threads', b.wrkThreads),
    getBlobs: num('get-blobs', b.getBlobs),
    fmbCalls: num('fmb-calls', b.fmbCalls),
    fmbDigests: num('fmb-digests', b.fmbDigests),
    fmbConcurrency: num('fmb-concurrency', b.fmbConcurrency),
    hoardArgs: hoardArgsOption(values['hoard-arg'], undefined),
  };
}

const d = S3_DEFAULTS;
const q = { ...d, ...S3_QUICK };
/** The options of this script, as --help prints them (bench/run.ts prints them too). */
export const S3_OPTIONS_HELP =
  usageLine('--rounds N', `rounds of every workload; a figure is the median round (default ${d.rounds})`) +
  usageLine(
    '--small-count N',
    `${formatSize(d.smallSize)} blobs written behind and read through per round (default ${d.smallCount})`,
  ) +
  usageLine('--small-concurrency N', `${formatSize(d.smallSize)} requests in flight (default ${d.smallConcurrency})`) +
  usageLine('--large-size SIZE', `size of the large blobs (default ${formatSize(d.largeSize)})`) +
  usageLine('--large-count N', `large blobs written behind and read through per round (default ${d.largeCount})`) +
  usageLine('--large-concurrency N', `large transfers in flight (default ${d.largeConcurrency})`) +
  usageLine('--seconds N', `length of each wrk run of local hits (default ${d.seconds})`) +
  usageLine('--connections N', `wrk connections for the local hits (default ${d.connections})`) +
  usageLine('--wrk-threads N', `wrk threads for the local hits (default ${d.wrkThreads})`) +
  usageLine('--get-blobs N', `blobs on each server's disk for the local hits (default ${d.getBlobs})`) +
  usageLine('--fmb-calls N', `FindMissingBlobs calls per round and kind (default ${d.fmbCalls})`) +
  usageLine('--fmb-digests N', `digests per FindMissingBlobs call (default ${d.fmbDigests})`) +
  usageLine('--fmb-concurrency N', `FindMissingBlobs calls in flight (default ${d.fmbConcurrency})`) +
  usageLine('--hoard-arg ARG', 'an extra argument for every `hoard serve` (repeatable)') +
  usageLine(
    '--quick',
    `a short run (${q.rounds} round, ${q.smallCount} small and ${q.largeCount} × ${formatSize(q.largeSize)} blobs, ${q.seconds} s wrk runs)`,
  );

export const S3_USAGE = `Usage: ./node_modules/.bin/node bench/s3.ts [options]

hoard with an S3 bucket behind its disk (a private Ceph RGW started for the run; Ceph must be
installed) against the bucket read and written straight with the AWS SDK, and against hoard
without a bucket: read-through of ${formatSize(d.smallSize)} and ${formatSize(d.largeSize)} blobs, write-behind until the
upload queue is empty, local ${formatSize(d.smallSize)} hits (wrk), FindMissingBlobs with half the digests only
in the bucket.

Options:
${S3_OPTIONS_HELP}  -h, --help                     print this and exit
`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(argv, S3_USAGE, [S3_OPTIONS], async () => {
    process.stdout.write(renderSection(await runS3Bench(parseS3Args(argv))));
  });
}
