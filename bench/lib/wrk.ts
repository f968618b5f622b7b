// Load with wrk (Debian `wrk`): a C load generator with LuaJIT scripting, far leaner than
// a Node client, so the server under test keeps most of the 2 cores. Two scripts: GETs
// cycling over prefilled paths (small blobs, and large ones: wrk only counts a body's
// bytes, never buffers it, as long as the script defines no response()), and PUTs of
// distinct blobs whose bodies are built in Lua (filler .. tag) while the hashes were
// computed in Node beforehand.
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
  /** Responses completed (any status). */
  readonly requests: number;
  /**
   * Requests the script made: one per response, one per connection still in flight at the
   * end, one for wrk's own check of the script (a first request() it parses, never sends),
   * and one per response lost to a connection the server closed (wrk reconnects silently).
   */
  readonly issued: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Everything read off the sockets: status lines, headers and bodies, the cut-off tail too. */
  readonly bytesRead: number;
  /** Responses with a status ≥ 400 (wrk's "non-2xx or 3xx"), socket errors and timeouts. */
  readonly errors: number;
  readonly p50ms: number;
  readonly p95ms: number;
  readonly p99ms: number;
  readonly cpu: CpuShares;
}

// Printed by the script's done(): one JSON line the harness parses. Byte counts pass
// 2^31 within seconds of large GETs: %.0f prints them whole whatever the Lua number width.
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  local issued = 0
  for _, t in ipairs(threads) do issued = issued + t:get("issued") end
  io.write(string.format('BENCHJSON {"requests":%.0f,"issued":%.0f,"duration_us":%.0f,"bytes":%.0f,"errors":%.0f,"p50":%.0f,"p95":%.0f,"p99":%.0f}\\n',
    summary.requests, issued, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
`;

// Each thread gets an index (tid) and counts its request() calls (issued); done() sums them.
const THREAD_SETUP = `
local counter = 0
threads = {}
issued = 0
function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
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
  issued = issued + 1
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
  issued = issued + 1
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
  /** A response slower than this counts as an error (a timeout); default 10. */
  readonly timeoutSeconds?: number;
  /**
   * Headers sent with every request ("Authorization: Bearer …"), as wrk's -H: both scripts
   * leave wrk.format its default headers, which -H fills. An https URL makes wrk speak TLS
   * (it does not verify the server's certificate).
   */
  readonly headers?: readonly string[];
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
      `${options.timeoutSeconds ?? 10}s`,
      ...(options.headers ?? []).flatMap((h) => ['-H', h]),
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
      issued: number;
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
      issued: j.issued,
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

/**
 * wrk threads for `connections`: up to `most`, and a divisor of `connections`, since each
 * wrk thread opens connections/threads of them (rounded down: 3 over 2 threads would be 2).
 */
export function wrkThreadsFor(connections: number, most = 2): number {
  for (let t = Math.min(most, connections); t > 1; t--) if (connections % t === 0) return t;
  return 1;
}

/** Response header bytes allowed per response in wholeBodiesProblem (servers here send under 300). */
const HEADER_ALLOWANCE = 1024;

/**
 * Checks that a run of getScript over blobs of `size` bytes got every response as a 2xx
 * with the whole body; returns what is wrong, or undefined. wrk counts only statuses ≥ 400
 * (and socket errors, timeouts) as errors, and sees a body's length only by buffering it
 * (a response() callback, which would copy every large body), so the bytes must add up:
 * each completed response brings `size` plus its headers, and at the end up to one response
 * per connection is cut off mid-body (its bytes counted, the response not). A short body (a
 * 204 or 3xx, a truncated blob) pulls the total under requests × size unless that tail
 * happens to make up for it; a connection the server closed mid-body (wrk reconnects without
 * counting an error) leaves a request without its response, seen in `issued`, and bytes
 * over the bound.
 */
export function wholeBodiesProblem(r: WrkResult, size: number, connections: number): string | undefined {
  if (r.errors > 0) return `${r.errors} errors (statuses ≥ 400, socket errors or timeouts)`;
  if (r.requests === 0) return 'no response completed';
  // In flight at the end: at most one per connection, plus wrk's own check of the script.
  const unanswered = r.issued - r.requests;
  if (unanswered > connections + 1)
    return `${unanswered} requests without a response over ${connections} connections (a server closed connections mid-body?)`;
  const min = r.requests * size;
  const max = (r.requests + connections) * (size + HEADER_ALLOWANCE);
  if (r.bytesRead < min || r.bytesRead > max)
    return `${r.bytesRead} bytes read for ${r.requests} responses of ${size} bytes over ${connections} connections (expected ${min}..${max})`;
  return undefined;
}

/** Writes the hashes of blobs 0..count-1 of `family` to a file for putScript. */
export async function writeHashFile(family: BlobFamily, count: number, file: string): Promise<void> {
  const parts: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) parts[i] = family.hash(i);
  await writeFile(file, parts.join(''));
}
