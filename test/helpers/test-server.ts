// An in-process hoard server on a free port and a fresh temporary store, for integration
// tests that do not need a separate process (those use spawn-server.ts).
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/schema.ts';
import { hashBytes } from '../../src/core/digest.ts';
import { startServer, type RunningServer } from '../../src/server/start-server.ts';

export interface TestServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly dir: string;
  close(): Promise<void>;
}

/** The request threads the suite runs with: it runs once with 1 and once with 2 (package.json). */
export const SUITE_WORKERS = process.env['HOARD_WORKERS'] ?? '1';

/**
 * The config of a test server in `dir`: a free HTTP port, no gRPC, silent logs, no fsync, the
 * suite's request threads. `flags` are camelCase config keys with flag-style values, e.g.
 * { maxBlobSize: '1KiB' }, and win over these.
 */
export function testConfig(dir: string, flags: Record<string, unknown> = {}): Promise<Config> {
  return loadConfig({
    env: {},
    flags: {
      dir,
      httpAddress: '127.0.0.1:0',
      grpcAddress: '',
      logLevel: 'silent',
      accessLog: 'off',
      durability: 'none',
      workers: SUITE_WORKERS,
      ...flags,
    },
  });
}

export async function startTestServer(flags: Record<string, unknown> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-it-'));
  const config = await testConfig(dir, flags);
  const server = await startServer(config);
  return {
    server,
    url: server.httpUrl,
    dir,
    async close() {
      await server.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function sha256(data: Uint8Array | string): string {
  return hashBytes(typeof data === 'string' ? Buffer.from(data) : data);
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * One request with node:http and no pooling, the path sent exactly as given (fetch would
 * normalise `..` and percent-encodings away, which the traversal tests must not).
 */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  body?: Uint8Array,
  headers: OutgoingHttpHeaders = {},
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
