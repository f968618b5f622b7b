// The servers a benchmark compares: hoard (always; once per worker count with --workers),
// hoard from an earlier checkout (when a directory is given), nginx with WebDAV PUT (when
// installed) and bazel-remote (when a binary path is given); hoard and bazel-remote also
// behind TLS with credentials (`secured`, for bench/secured.ts). Each runs as its own process
// on 127.0.0.1 with a fresh temporary directory, with access logging off for all of them so
// no one pays for logs the others skip, and is stopped by PID.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { spawnHoard } from '../../test/helpers/spawn-server.ts';
import { setsWorkers, UsageError } from './args.ts';
import { type Child, freePort, startChild, waitForPort } from './processes.ts';
import { HOARD, type HoardName, hoardName, type SecuredBy, securedName } from './target-names.ts';

/** hoard's gRPC server over a store that keeps nothing: without, then with verification. */
export const DISCARDING = 'hoard, store discards';
export const VERIFYING = 'hoard, store verifies, discards';

/** The hoard under test (`hoard (N workers)` with --workers); an earlier checkout of it is `hoard@<short commit>`. */
export { HOARD };

export interface Target {
  readonly name:
    | HoardName
    | `${typeof HOARD}@${string}`
    | typeof DISCARDING
    | typeof VERIFYING
    | 'nginx'
    | 'bazel-remote'
    | 'bazel-remote (TLS + Basic)';
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

/**
 * A server behind TLS (`certFile`, `keyFile`: PEM) that admits only callers with
 * credentials, checked against `credentialsFile`: hoard's access file of bearer tokens
 * (`token`), or an htpasswd file (`Basic`).
 */
export interface SecuredSetup {
  readonly by: SecuredBy;
  readonly certFile: string;
  readonly keyFile: string;
  readonly credentialsFile: string;
}

function hoardSecuredArgs(s: SecuredSetup): string[] {
  return [
    '--tls-cert-file',
    s.certFile,
    '--tls-key-file',
    s.keyFile,
    s.by === 'token' ? '--access-file' : '--htpasswd-file',
    s.credentialsFile,
  ];
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
 * With `workers`, it runs with `--workers N` and is named `hoard (N workers)`; without, it
 * runs with its default worker count and is named `hoard`. With `checkout`, the server is
 * that checkout's `src/cli/main.ts` run by this checkout's node with the same flags
 * (`workers` aside: an earlier checkout may not know the option), named
 * `hoard@<its short commit>`.
 */
export async function startHoard(
  options: {
    grpc?: boolean;
    extraArgs?: readonly string[];
    workers?: number;
    baseDir?: string;
    keep?: boolean;
    checkout?: HoardCheckout;
    /** Behind TLS with credentials: named `hoard (TLS + token)` or `hoard (TLS + Basic)`; not with `workers` or `checkout`. */
    secured?: SecuredSetup;
  } = {},
): Promise<Target> {
  const checkout = options.checkout;
  const workers = checkout ? undefined : options.workers;
  const secured = options.secured;
  if (secured && (workers !== undefined || checkout))
    throw new Error('startHoard: a secured hoard is named by its setup alone (no workers, no checkout)');
  const dir = await scratch(checkout ? `hoard-${checkout.commit}` : 'hoard', options.baseDir);
  const args = [
    '--max-size',
    '64GiB',
    '--access-log',
    'off',
    '--log-level',
    'warn',
    ...(workers === undefined ? [] : ['--workers', String(workers)]),
    ...(secured ? hoardSecuredArgs(secured) : []),
    ...(options.extraArgs ?? []),
  ];
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
  // An earlier checkout runs with its own default worker count (it may not know the option).
  const from = checkout
    ? ` of ${checkout.dir} at ${checkout.commit}${checkout.dirty ? ' + uncommitted changes' : ''}, no --workers given`
    : '';
  // `--workers N` beats HOARD_WORKERS; without it, the description says which applies.
  const byDefault =
    checkout || workers !== undefined || setsWorkers(options.extraArgs ?? [])
      ? ''
      : ` (workers: ${defaultWorkers().source})`;
  return {
    name: checkout ? `${HOARD}@${checkout.commit}` : secured ? securedName(HOARD, secured.by) : hoardName(workers),
    httpUrl: hoard.httpUrl,
    grpcTarget: hoard.grpcTarget,
    // worker_threads are threads of this process: its CPU counts them all.
    pids: [hoard.pid],
    describe: `hoard serve${from} (node ${process.version}) ${args.join(' ')}${byDefault}`,
    async stop() {
      await hoard.dispose();
      if (!options.keep) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The worker count `hoard serve` starts with when its command line does not set one:
 * HOARD_WORKERS when set (the servers inherit this environment), else `auto`, one per core
 * it may use (the same machine: the same count). `count` is undefined when HOARD_WORKERS
 * is not a count (the server will refuse it).
 */
export function defaultWorkers(): { readonly count: number | undefined; readonly source: string } {
  const env = process.env.HOARD_WORKERS?.trim();
  if (!env) return { count: availableParallelism(), source: `the default, auto = ${availableParallelism()} here` };
  const count = env.toLowerCase() === 'auto' ? availableParallelism() : /^\d+$/.test(env) ? Number(env) : undefined;
  return { count, source: `HOARD_WORKERS=${env} from the environment` };
}

/**
 * A note on how connections reach hoard's request threads when a hoard under test runs
 * several: each thread listens on the same port (SO_REUSEPORT), and the kernel hands every
 * new connection to one of them by a hash of its addresses, for the connection's life. So
 * a workload over fewer connections than threads leaves threads idle, and a few
 * connections spread unevenly. `uses` says each workload's connections ("32 for the 4 KiB
 * GETs and PUTs (wrk)"); undefined when no hoard runs more than one request thread.
 */
export function spreadNote(
  uses: readonly string[],
  workers: readonly number[] | undefined,
  hoardArgs: readonly string[],
): string | undefined {
  const most = workers ? Math.max(...workers) : setsWorkers(hoardArgs) ? undefined : defaultWorkers().count;
  if (most === undefined || most <= 1 || uses.length === 0) return undefined;
  return (
    `Up to ${most} request threads in hoard: each accepts its own connections (SO_REUSEPORT: the kernel hands each new connection to one thread by a hash of its addresses, for the connection's life), ` +
    `so fewer connections than threads leave threads idle and a few connections spread unevenly (each figure's busiest server threads show the spread). Connections here: ${uses.join('; ')}.`
  );
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

/**
 * bazel-remote from a binary path (not installable here: only when the user gives one).
 * `secured` (Basic only: bazel-remote takes no bearer tokens) serves both listeners with
 * TLS and --htpasswd_file, named `bazel-remote (TLS + Basic)`; its gRPC listener then reads
 * credentials from the `:authority` pseudo-header (`user:password@host:port`), not from
 * `authorization` metadata.
 */
export async function startBazelRemote(
  bin: string,
  options: { baseDir?: string; keep?: boolean; secured?: SecuredSetup } = {},
): Promise<Target> {
  const secured = options.secured;
  if (secured && secured.by !== 'Basic') throw new Error('bazel-remote takes Basic credentials (htpasswd) only');
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
    ...(secured
      ? [
          '--tls_cert_file',
          secured.certFile,
          '--tls_key_file',
          secured.keyFile,
          '--htpasswd_file',
          secured.credentialsFile,
        ]
      : []),
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
    name: secured ? securedName('bazel-remote', 'Basic') : 'bazel-remote',
    httpUrl: `${secured ? 'https' : 'http'}://127.0.0.1:${httpPort}`,
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
