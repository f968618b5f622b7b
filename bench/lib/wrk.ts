// Small-request load with wrk (Debian `wrk`): a C load generator with LuaJIT scripting,
// far leaner than a Node client, so the server under test keeps most of the 2 cores.
// Two scripts: GETs cycling over prefilled paths, and PUTs of distinct blobs whose bodies
// are built in Lua (filler .. tag) while the hashes were computed in Node beforehand.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BlobFamily } from './blobs.ts';
import { type CpuShares, startCpuSampler } from './cpu.ts';
import { startChild } from './processes.ts';

export function wrkBinary(): string | undefined {
  for (const p of ['/usr/bin/wrk', '/usr/local/bin/wrk']) if (existsSync(p)) return p;
  try {
    return execFileSync('which', ['wrk'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly bytesRead: number;
  /** Non-2xx/3xx responses plus socket errors. */
  readonly errors: number;
  readonly p50ms: number;
  readonly p95ms: number;
  readonly p99ms: number;
  readonly cpu: CpuShares;
}

// Printed by the script's done(): one JSON line the harness parses.
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"p50":%d,"p95":%d,"p99":%d}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
`;

const THREAD_SETUP = `
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
`;

/** GETs of `paths` in turn; each wrk thread starts at a different place in the list. */
export function getScript(paths: readonly string[]): string {
  return `${THREAD_SETUP}
local paths = {${paths.map((p) => `"${p}"`).join(',')}}
local n = #paths
local i = 0
function init(args) i = (tid * 7919) % n end
function request()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end
${DONE}`;
}

/**
 * PUTs of distinct blobs: thread t sends blobs t, t+T, t+2T… of `family`, whose hashes are
 * read from `hashFile` (64 hex characters each). `threads` must match wrk's -t.
 */
export function putScript(
  family: BlobFamily,
  pathPrefix: string,
  hashFile: string,
  count: number,
  threads: number,
): string {
  const salt = family.tag(0).slice(0, 8);
  return `${THREAD_SETUP}
local filler = [==[${family.filler.toString('latin1')}]==]
local hashes
local i
function init(args)
  local f = assert(io.open("${hashFile}", "rb"))
  hashes = f:read("*a")
  f:close()
  i = tid
end
function request()
  -- Past the precomputed list the bodies repeat: the harness flags such a run.
  local k = i % ${count}
  i = i + ${threads}
  local h = string.sub(hashes, k * 64 + 1, k * 64 + 64)
  local body = filler .. "${salt}" .. string.format("%08x", k)
  return wrk.format("PUT", "${pathPrefix}" .. h, nil, body)
end
${DONE}`;
}

/** Runs wrk with `script` for `seconds`; CPU of the server pids and of wrk is measured. */
export async function runWrk(options: {
  readonly url: string;
  readonly script: string;
  readonly seconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly serverPids: readonly number[];
}): Promise<WrkResult> {
  const bin = wrkBinary();
  if (!bin) throw new Error('wrk is not installed (Debian: apt-get install -y wrk)');
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-wrk-'));
  try {
    const scriptPath = path.join(dir, 'script.lua');
    await writeFile(scriptPath, options.script);
    const args = [
      '-t',
      String(options.threads),
      '-c',
      String(options.connections),
      '-d',
      `${options.seconds}s`,
      '--timeout',
      '10s',
      '-s',
      scriptPath,
      options.url,
    ];
    const sampler = startCpuSampler({ serverPids: options.serverPids, generatorExitedChildren: true });
    const child = startChild(bin, args);
    const { code } = await child.exited;
    const cpu = sampler.stop();
    const m = child.output().match(/BENCHJSON (\{.*\})/);
    if (code !== 0 || !m?.[1]) throw new Error(`wrk failed (exit ${code}):\n${child.output().slice(-2000)}`);
    const j = JSON.parse(m[1]) as {
      requests: number;
      duration_us: number;
      bytes: number;
      errors: number;
      p50: number;
      p95: number;
      p99: number;
    };
    const seconds = j.duration_us / 1e6;
    return {
      requests: j.requests,
      seconds,
      // Only good responses count toward the rate: errors must not look like throughput.
      perSecond: Math.max(0, j.requests - j.errors) / seconds,
      bytesRead: j.bytes,
      errors: j.errors,
      p50ms: j.p50 / 1000,
      p95ms: j.p95 / 1000,
      p99ms: j.p99 / 1000,
      cpu,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes the hashes of blobs 0..count-1 of `family` to a file for putScript. */
export async function writeHashFile(family: BlobFamily, count: number, file: string): Promise<void> {
  const parts: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) parts[i] = family.hash(i);
  await writeFile(file, parts.join(''));
}
