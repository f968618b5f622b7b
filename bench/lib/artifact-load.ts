// Turborepo remote cache load from Node, for what wrk does badly: prefilling servers,
// large artifact PUTs (whole Buffers written without copies) and one streamed upload far
// larger than anything the generator should hold (the RSS check). Every request carries what
// turbo sends: `Authorization: Bearer …`, the team as `?slug=`, and on PUT
// `Content-Type: application/octet-stream` and `x-artifact-duration`. Responses are counted
// and dropped, never buffered.
import http from 'node:http';
import type { BlobFamily } from './blobs.ts';
import { type CpuShares, startCpuSampler } from './cpu.ts';
import { pool } from './pool.ts';
import { summarizeLatency } from './report.ts';
import { putScript } from './wrk.ts';

/** The team every request names (`?slug=`), as `TURBO_TEAM` makes turbo send it. */
export const SLUG = 'bench';

/** The path of artifact `hash`: `/v8/artifacts/<hash>?slug=bench`. */
export function artifactPath(hash: string): string {
  return `/v8/artifacts/${hash}?slug=${SLUG}`;
}

/** Headers turbo sends with a PUT besides Authorization (and Content-Length). */
export const PUT_HEADERS = { 'content-type': 'application/octet-stream', 'x-artifact-duration': '1200' } as const;

/** The same as wrk -H lines. */
export const PUT_HEADER_LINES = Object.entries(PUT_HEADERS).map(([k, v]) => `${k}: ${v}`);

/**
 * bench/lib/wrk.ts's PUT script of distinct blobs, each sent to artifactPath(its hash): the
 * team query appended to the path it builds. Throws when that script's request line has
 * changed shape (the query would silently go missing).
 */
export function artifactPutScript(family: BlobFamily, hashFile: string, count: number, threads: number): string {
  const script = putScript(family, '/v8/artifacts/', hashFile, count, threads);
  const line = '.. h, nil, body)';
  if (!script.includes(line)) throw new Error(`putScript no longer builds its path as \`${line}\``);
  return script.replace(line, `.. h .. "?slug=${SLUG}", nil, body)`);
}

export function agent(sockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

/**
 * One request for an artifact; resolves with the status and the body bytes received.
 * `body`: a whole Buffer, or chunks written as the socket drains (`size` bytes in all).
 */
export function artifactRequest(options: {
  readonly agent: http.Agent;
  readonly base: string;
  readonly hash: string;
  readonly method: 'GET' | 'PUT';
  readonly authorization: string;
  readonly body?: Buffer | { readonly size: number; readonly chunks: Iterable<Buffer> };
}): Promise<{ status: number; bytes: number }> {
  const { body } = options;
  const headers: http.OutgoingHttpHeaders = { authorization: options.authorization };
  if (body) Object.assign(headers, PUT_HEADERS, { 'content-length': Buffer.isBuffer(body) ? body.length : body.size });
  return new Promise((resolve, reject) => {
    const url = `${options.base}${artifactPath(options.hash)}`;
    const req = http.request(url, { method: options.method, agent: options.agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.once('error', reject);
    });
    req.once('error', reject);
    if (!body || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    // Streamed: the next chunk only once the socket took the last (a server that stops
    // reading holds the generator's memory to one chunk).
    const it = body.chunks[Symbol.iterator]();
    const pump = (): void => {
      for (let n = it.next(); !n.done; n = it.next()) if (!req.write(n.value)) return void req.once('drain', pump);
      req.end();
    };
    pump();
  });
}

/** PUTs artifacts [from, from+count) of `family`, `concurrency` at a time; throws on a non-2xx. */
export async function prefillArtifacts(
  base: string,
  authorization: string,
  family: BlobFamily,
  from: number,
  count: number,
  concurrency = 16,
): Promise<void> {
  const a = agent(concurrency);
  const buffers = Array.from({ length: concurrency }, () => family.bytes(0));
  try {
    await pool(count, concurrency, async (i, w) => {
      const body = family.fill(buffers[w] as Buffer, from + i);
      const r = await artifactRequest({
        agent: a,
        base,
        hash: family.hash(from + i),
        method: 'PUT',
        authorization,
        body,
      });
      if (r.status < 200 || r.status > 299) throw new Error(`prefill PUT ${base} → ${r.status}`);
    });
  } finally {
    a.destroy();
  }
}

export interface ArtifactTransfer {
  readonly seconds: number;
  readonly mbPerSecond: number;
  readonly failures: number;
  /** The first failure's status (0: a socket error), for the row's warning. */
  readonly firstFailure?: string;
  readonly p95ms: number;
  readonly cpu: CpuShares;
}

/** Large artifact PUTs of `family` [from, from+count), `concurrency` at a time, each worker rewriting one buffer's tag. */
export async function putLargeArtifacts(options: {
  readonly base: string;
  readonly authorization: string;
  readonly family: BlobFamily;
  readonly from: number;
  readonly count: number;
  readonly concurrency: number;
  readonly serverPids: readonly number[];
}): Promise<ArtifactTransfer> {
  const { base, authorization, family, from, count, concurrency } = options;
  const a = agent(concurrency);
  const buffers = Array.from({ length: Math.min(concurrency, count) }, () => family.bytes(0));
  const hashes = Array.from({ length: count }, (_, i) => family.hash(from + i));
  let failures = 0;
  let firstFailure: string | undefined;
  let bytes = 0;
  const sampler = startCpuSampler({ serverPids: options.serverPids, generatorInProcess: true });
  const t0 = performance.now();
  const latencies = await pool(count, concurrency, async (i, w) => {
    const body = family.fill(buffers[w] as Buffer, from + i);
    try {
      const r = await artifactRequest({
        agent: a,
        base,
        hash: hashes[i] as string,
        method: 'PUT',
        authorization,
        body,
      });
      if (r.status >= 200 && r.status <= 299) bytes += family.size;
      else {
        failures++;
        firstFailure ??= `status ${r.status}`;
      }
    } catch (err) {
      failures++;
      firstFailure ??= (err as Error).message;
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = sampler.stop();
  a.destroy();
  return {
    seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    failures,
    firstFailure,
    p95ms: summarizeLatency(latencies).p95,
    cpu,
  };
}

/** `size` bytes as 1 MiB chunks (one buffer reused), the last `tag` bytes distinct per artifact. */
export function* streamedBody(size: number, tag: string): Generator<Buffer> {
  const chunkSize = Math.min(size, 2 ** 20);
  const chunk = Buffer.alloc(chunkSize, 'x');
  for (let sent = 0; sent < size; sent += chunkSize) {
    const n = Math.min(chunkSize, size - sent);
    if (sent + n >= size) {
      const last = Buffer.alloc(n, 'x');
      last.write(tag, Math.max(0, n - tag.length), 'latin1');
      yield last;
    } else yield chunk;
  }
}
