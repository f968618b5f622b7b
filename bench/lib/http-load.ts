// A lean Node HTTP/1.1 generator for what wrk does badly: prefilling servers and large
// (64 MiB) PUTs, where the cost is in moving bytes, not in request overhead; also the large
// GETs when wrk is missing (with wrk they go to wrk: this client takes about a core itself).
// node:http (node:https for a secured server, with its CA and credentials) with a
// keep-alive agent; bodies are whole Buffers written without copies, responses are counted
// and dropped, never buffered or hashed in the timed phase.
import http from 'node:http';
import https from 'node:https';
import type { BlobFamily } from './blobs.ts';
import { type CpuShares, startCpuSampler } from './cpu.ts';
import { pool } from './pool.ts';
import { summarizeLatency } from './report.ts';

/**
 * How to reach a secured server: the CA that signed its certificate (for https:// URLs) and
 * the Authorization value sent with every request.
 */
export interface HttpAccess {
  readonly ca?: Buffer;
  readonly authorization?: string;
}

/** An https.Agent (trusting `access.ca`) for an https:// `base`, else an http.Agent. */
export function keepAliveAgent(sockets: number, base = 'http:', access: HttpAccess = {}): http.Agent {
  const options = { keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets };
  return base.startsWith('https:') ? new https.Agent({ ...options, ca: access.ca }) : new http.Agent(options);
}

/** One request; resolves with the status and the number of body bytes received. */
export function httpRequest(
  agent: http.Agent,
  url: string,
  method: 'GET' | 'PUT' | 'HEAD',
  body?: Buffer,
  authorization?: string,
): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = body
      ? { 'content-length': body.length, 'content-type': 'application/octet-stream' }
      : {};
    if (authorization) headers.authorization = authorization;
    const request = url.startsWith('https:') ? https.request : http.request;
    const req = request(url, { method, agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** PUTs blobs [from, from+count) of `family` to `${base}/cas/<hash>`; throws on a non-2xx. */
export async function prefill(
  base: string,
  family: BlobFamily,
  from: number,
  count: number,
  concurrency = 16,
  access: HttpAccess = {},
): Promise<void> {
  const agent = keepAliveAgent(concurrency, base, access);
  const buffers = Array.from({ length: concurrency }, () => family.bytes(0));
  try {
    await pool(count, concurrency, async (i, w) => {
      const body = family.fill(buffers[w] as Buffer, from + i);
      const url = `${base}/cas/${family.hash(from + i)}`;
      const r = await httpRequest(agent, url, 'PUT', body, access.authorization);
      if (r.status < 200 || r.status > 299) throw new Error(`prefill PUT ${base} → ${r.status}`);
    });
  } finally {
    agent.destroy();
  }
}

export interface TransferResult {
  readonly ops: number;
  readonly seconds: number;
  readonly mbPerSecond: number;
  readonly opsPerSecond: number;
  readonly failures: number;
  readonly p50ms: number;
  readonly p95ms: number;
  readonly cpu: CpuShares;
}

/**
 * Large-blob PUTs (distinct blobs from..from+count) or GETs of them, `concurrency` at a
 * time. Each worker owns one body buffer and rewrites only its tag between blobs.
 */
export async function transfer(options: {
  readonly base: string;
  readonly family: BlobFamily;
  readonly method: 'PUT' | 'GET';
  readonly from: number;
  readonly count: number;
  readonly concurrency: number;
  readonly serverPids: readonly number[];
}): Promise<TransferResult> {
  const { base, family, method, from, count, concurrency } = options;
  const agent = keepAliveAgent(concurrency);
  const buffers = method === 'PUT' ? Array.from({ length: concurrency }, () => family.bytes(0)) : [];
  const hashes = Array.from({ length: count }, (_, i) => family.hash(from + i));
  let failures = 0;
  let bytes = 0;
  const sampler = startCpuSampler({ serverPids: options.serverPids, generatorInProcess: true });
  const t0 = performance.now();
  const latencies = await pool(count, concurrency, async (i, w) => {
    const url = `${base}/cas/${hashes[i]}`;
    const body = method === 'PUT' ? family.fill(buffers[w] as Buffer, from + i) : undefined;
    const r = await httpRequest(agent, url, method, body);
    const moved = method === 'PUT' ? family.size : r.bytes;
    if (r.status < 200 || r.status > 299 || moved !== family.size) failures++;
    else bytes += moved;
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = sampler.stop();
  agent.destroy();
  const lat = summarizeLatency(latencies);
  return {
    ops: count,
    seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    opsPerSecond: count / seconds,
    failures,
    p50ms: lat.p50,
    p95ms: lat.p95,
    cpu,
  };
}
