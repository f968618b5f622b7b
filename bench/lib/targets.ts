// The servers a benchmark compares: hoard (always), hoard from an earlier checkout (when a
// directory is given), nginx with WebDAV PUT (when installed) and bazel-remote (when a
// binary path is given). Each runs as its own process on
// 127.0.0.1 with a fresh temporary directory, with access logging off for all of them so
// no one pays for logs the others skip, and is stopped by PID.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnHoard } from '../../test/helpers/spawn-server.ts';
import { UsageError } from './args.ts';
import { type Child, freePort, startChild, waitForPort } from './processes.ts';

/** hoard's gRPC server over a store that keeps nothing: without, then with verification. */
export const DISCARDING = 'hoard, store discards';
export const VERIFYING = 'hoard, store verifies, discards';

/** The hoard under test; an earlier checkout of it is `hoard@<short commit>`. */
export const HOARD = 'hoard';

export interface Target {
  readonly name:
    typeof HOARD | `${typeof HOARD}@${string}` | typeof DISCARDING | typeof VERIFYING | 'nginx' | 'bazel-remote';
  /** Base URL for the Bazel HTTP cache protocol (…/cas/<hash>, …/ac/<hash>). */
  readonly httpUrl?: string;
  /** host:port for REAPI gRPC, when the target speaks it. */
  readonly grpcTarget?: string;
  /** Processes whose CPU counts as the server's. */
  readonly pids: readonly number[];
  /** One line saying what runs (version, settings) for the results. */
  readonly describe: string;
  stop(): Promise<void>;
}

async function scratch(name: string, baseDir?: string): Promise<string> {
  const parent = baseDir ?? tmpdir();
  await mkdir(parent, { recursive: true });
  return mkdtemp(path.join(parent, `hoard-bench-${name}-`));
}

function withCleanup(child: Child, dir: string, keep: boolean): () => Promise<void> {
  return async () => {
    await child.stop();
    if (!keep) await rm(dir, { recursive: true, force: true });
  };
}

/** Another checkout of hoard (a git worktree of an earlier commit, with its node_modules). */
export interface HoardCheckout {
  readonly dir: string;
  /** `git rev-parse --short HEAD` in it. */
  readonly commit: string;
  /** Tracked files differ from the commit: the name alone does not say what runs. */
  readonly dirty: boolean;
}

/** Reads `dir` as a hoard checkout for `--hoard-baseline`; a UsageError when it is not one. */
export function hoardCheckout(dir: string): HoardCheckout {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, 'src', 'cli', 'main.ts')))
    throw new UsageError(`--hoard-baseline takes a hoard checkout (with src/cli/main.ts), got ${JSON.stringify(dir)}`);
  if (!existsSync(path.join(abs, 'node_modules')))
    throw new UsageError(`--hoard-baseline ${dir}: no node_modules there (install or symlink one)`);
  const git = (args: string[]) =>
    execFileSync('git', ['-C', abs, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  try {
    return {
      dir: abs,
      commit: git(['rev-parse', '--short', 'HEAD']),
      dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    };
  } catch (err) {
    throw new UsageError(`--hoard-baseline ${dir}: not a git checkout (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * `hoard serve` as a child process via the shared test helper (Node 24, free ports, parsed
 * listening lines, stopped by PID). `extraArgs` go last, so they override the defaults.
 * With `checkout`, the server is that checkout's `src/cli/main.ts` run by this checkout's
 * node with the same flags, named `hoard@<its short commit>`.
 */
export async function startHoard(
  options: {
    grpc?: boolean;
    extraArgs?: readonly string[];
    baseDir?: string;
    keep?: boolean;
    checkout?: HoardCheckout;
  } = {},
): Promise<Target> {
  const checkout = options.checkout;
  const dir = await scratch(checkout ? `hoard-${checkout.commit}` : 'hoard', options.baseDir);
  const args = ['--max-size', '64GiB', '--access-log', 'off', '--log-level', 'warn', ...(options.extraArgs ?? [])];
  // HOARD_BENCH_SERVER_NODE_OPTIONS reaches only the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const serverNodeOptions = process.env.HOARD_BENCH_SERVER_NODE_OPTIONS;
  const env = serverNodeOptions ? { NODE_OPTIONS: serverNodeOptions } : undefined;
  const main = checkout ? path.join(checkout.dir, 'src', 'cli', 'main.ts') : undefined;
  let hoard;
  try {
    hoard = await spawnHoard(args, { dir: path.join(dir, 'store'), grpc: options.grpc ?? true, env, main });
  } catch (err) {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const from = checkout
    ? ` of ${checkout.dir} at ${checkout.commit}${checkout.dirty ? ' + uncommitted changes' : ''}`
    : '';
  return {
    name: checkout ? `${HOARD}@${checkout.commit}` : HOARD,
    httpUrl: hoard.httpUrl,
    grpcTarget: hoard.grpcTarget,
    pids: [hoard.pid],
    describe: `hoard serve${from} (node ${process.version}) ${args.join(' ')}`,
    async stop() {
      await hoard.dispose();
      if (!options.keep) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The nginx binary when installed (Debian nginx-light has the DAV module), else undefined. */
export function nginxBinary(): string | undefined {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'])
    if (existsSync(p)) return p;
  return undefined;
}

function nginxVersion(bin: string): string {
  try {
    return execFileSync(bin, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || 'nginx';
  } catch (err) {
    // nginx -v prints to stderr.
    const e = err as { stderr?: string };
    return e.stderr?.trim() ?? 'nginx';
  }
}

/**
 * nginx serving a directory with WebDAV PUT under /cas/ and /ac/: the "plain file server"
 * baseline. It neither verifies hashes nor fsyncs, so it bounds what HTTP plumbing costs.
 * `workers` defaults to one per core, nginx's usual setting.
 */
export async function startNginx(
  options: { workers?: number | 'auto'; baseDir?: string; keep?: boolean } = {},
): Promise<Target | undefined> {
  const bin = nginxBinary();
  if (!bin) return undefined;
  const dir = await scratch('nginx', options.baseDir);
  const root = path.join(dir, 'root');
  await mkdir(path.join(root, 'cas'), { recursive: true });
  await mkdir(path.join(root, 'ac'), { recursive: true });
  await mkdir(path.join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const t = (p: string) => path.join(dir, 'tmp', p);
  const running = process.getuid?.() === 0 ? 'user root;' : '';
  await writeFile(
    conf,
    `${running}
daemon off;
worker_processes ${options.workers ?? 'auto'};
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  client_max_body_size 0;
  client_body_buffer_size 128k;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
`,
  );
  const child = startChild(bin, ['-c', conf, '-p', dir]);
  try {
    await waitForPort(port, child);
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  // Workers are children of the master: their CPU is the server's CPU.
  const workers = (): number[] => {
    try {
      return execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  return {
    name: 'nginx',
    httpUrl: `http://127.0.0.1:${port}`,
    pids: [child.pid, ...workers()],
    describe: `${nginxVersion(bin)} WebDAV PUT, worker_processes ${options.workers ?? 'auto'}, no fsync, no hash check`,
    stop: withCleanup(child, dir, options.keep ?? false),
  };
}

/** bazel-remote from a binary path (not installable here: only when the user gives one). */
export async function startBazelRemote(
  bin: string,
  options: { baseDir?: string; keep?: boolean } = {},
): Promise<Target> {
  const dir = await scratch('bazel-remote', options.baseDir);
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const args = [
    '--dir',
    path.join(dir, 'cache'),
    '--max_size',
    '64',
    '--http_address',
    `127.0.0.1:${httpPort}`,
    '--grpc_address',
    `127.0.0.1:${grpcPort}`,
    '--access_log_level',
    'none',
  ];
  const child = startChild(bin, args);
  try {
    await waitForPort(httpPort, child);
    await waitForPort(grpcPort, child);
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  return {
    name: 'bazel-remote',
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcTarget: `127.0.0.1:${grpcPort}`,
    pids: [child.pid],
    describe: `bazel-remote ${bin} ${args.join(' ')}`,
    stop: withCleanup(child, dir, options.keep ?? false),
  };
}

/**
 * hoard's gRPC server over a store that reads uploads and keeps nothing (no disk): the
 * Write ceiling of the transport and protocol handling on this machine; with `verify`,
 * each upload's sha256 is checked first, as the disk store does on its event loop.
 */
export async function startDiscardingGrpcServer(options: { verify?: boolean } = {}): Promise<Target> {
  const port = await freePort();
  const child = startChild(process.execPath, [
    path.join(import.meta.dirname, 'discard-grpc-server.ts'),
    String(port),
    ...(options.verify ? ['verify'] : []),
  ]);
  await waitForPort(port, child);
  return {
    name: options.verify ? VERIFYING : DISCARDING,
    grpcTarget: `127.0.0.1:${port}`,
    pids: [child.pid],
    describe: `hoard's REAPI server alone (node ${process.version}; no HTTP listener, metrics or logger) over a store that ${options.verify ? "verifies each upload's sha256 and then discards it" : 'drains each upload without hashing it'} (bench/lib/discard-grpc-server.ts)`,
    stop: () => child.stop(),
  };
}
