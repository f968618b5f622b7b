// What every check of `hoard check` gets: the server under test, a way to make clients
// (directly or through the built-in fault proxy), and small helpers for test data. Checks
// of Bazel HTTP and REAPI talk to the cache only through the public client library; the
// checks of the other protocols (Turborepo, Nx, Gradle, WebDAV) through a plain HTTP probe
// carrying the same credentials (http-probe.ts), so any cache speaking them can be checked.
import { randomBytes } from 'node:crypto';
import { createClient } from '../client/create-client.ts';
import type { CacheClient, ClientOptions } from '../client/types.ts';
import { digestOf, type Digest } from '../core/digest.ts';
import { startFaultProxy, type FaultPlan, type FaultProxy } from './fault-proxy.ts';
import { HttpProbe } from './http-probe.ts';

/**
 * - pass: the server does what its clients need;
 * - fail: it does something that costs builds (a miss, a wrong byte, an error a client stops on);
 * - info: it works, with a difference worth knowing that costs no build (e.g. fields the
 *   server adds to an ActionResult);
 * - unsupported: an optional feature the server does not offer, which clients do without
 *   (e.g. Turborepo's batch query: turbo falls back to HEAD per artifact);
 * - n/a: the check cannot run against this endpoint (e.g. TLS behind the TCP fault proxy).
 * Only `fail` fails the run.
 */
export type CheckStatus = 'pass' | 'fail' | 'info' | 'unsupported' | 'n/a';

export interface CheckOutcome {
  readonly status: CheckStatus;
  readonly detail: string;
}

export const pass = (detail: string): CheckOutcome => ({ status: 'pass', detail });
export const fail = (detail: string): CheckOutcome => ({ status: 'fail', detail });
export const na = (detail: string): CheckOutcome => ({ status: 'n/a', detail });
export const info = (detail: string): CheckOutcome => ({ status: 'info', detail });
export const unsupported = (detail: string): CheckOutcome => ({ status: 'unsupported', detail });

export interface Check {
  readonly id: string;
  readonly title: string;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

export interface CheckContextOptions {
  readonly server: string;
  readonly clientOptions?: ClientOptions;
  /** Multiplies the amount of data and requests (default 1). */
  readonly scale?: number;
  /** Turborepo: the team slug sent as `?slug=` (turbo's --team); '' sends none. */
  readonly team?: string;
}

export class CheckContext {
  readonly server: string;
  readonly url: URL;
  readonly scale: number;
  readonly team: string;
  readonly #clientOptions: ClientOptions;
  readonly #open = new Set<CacheClient | HttpProbe>();
  readonly #proxies = new Set<FaultProxy>();

  constructor(opts: CheckContextOptions) {
    this.server = opts.server;
    this.url = new URL(opts.server);
    this.scale = opts.scale ?? 1;
    this.team = opts.team ?? '';
    this.#clientOptions = opts.clientOptions ?? {};
  }

  get protocol(): 'http' | 'grpc' {
    return this.url.protocol.startsWith('grpc') ? 'grpc' : 'http';
  }

  /** How the flags identify the client: a token (Bearer), a user and password (Basic), or not at all. */
  get credentials(): 'Bearer' | 'Basic' | undefined {
    const o = this.#clientOptions;
    if (o.token !== undefined) return 'Bearer';
    if (o.basic !== undefined || this.url.username !== '') return 'Basic';
    const given = Object.entries(o.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    if (given === undefined) return undefined;
    return /^bearer\s/i.test(given) ? 'Bearer' : 'Basic';
  }

  /** TLS cannot be cut transparently by a plain TCP proxy on another address. */
  get canProxy(): boolean {
    return this.url.protocol === 'http:' || this.url.protocol === 'grpc:';
  }

  /** A client of the server under test; closed by close(). */
  client(extra: ClientOptions = {}, server = this.server): CacheClient {
    const c = createClient(server, { ...this.#clientOptions, ...extra });
    this.#open.add(c);
    return c;
  }

  /** A plain HTTP probe of the server under test (same credentials and TLS); closed by close(). */
  http(extra: ClientOptions = {}, server = this.server): HttpProbe {
    const p = new HttpProbe(server, { ...this.#clientOptions, ...extra });
    this.#open.add(p);
    return p;
  }

  async release(c: CacheClient | HttpProbe): Promise<void> {
    this.#open.delete(c);
    await c.close();
  }

  /** Starts a fault proxy in front of the server; returns it and the URL to reach the server through it. */
  async proxy(plan: FaultPlan): Promise<{ proxy: FaultProxy; url: string }> {
    const port = Number(this.url.port || (this.url.protocol === 'http:' ? 80 : 443));
    const proxy = await startFaultProxy({ host: this.url.hostname, port }, plan);
    this.#proxies.add(proxy);
    const path = this.url.pathname === '/' ? '' : this.url.pathname;
    return { proxy, url: `${this.url.protocol}//${proxy.host}:${proxy.port}${path}` };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#open].map((c) => c.close().catch(() => undefined)));
    await Promise.all([...this.#proxies].map((p) => p.close()));
    this.#open.clear();
    this.#proxies.clear();
  }
}

/** Fresh random bytes and their digest (random so runs never collide with earlier data). */
export function blobOf(size: number): { bytes: Buffer; digest: Digest } {
  const bytes = randomBytes(size);
  return { bytes, digest: digestOf(bytes) };
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Runs `fn` over items with at most `n` in flight; collects results in order. */
export async function parallel<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 160) ?? '';
}
