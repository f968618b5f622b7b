// Starts `hoard serve` as a child process for integration, e2e and fault tests, and parses
// the addresses it prints. The contract with `hoard serve` is its stdout:
//   hoard: HTTP listening on http://127.0.0.1:PORT
//   hoard: gRPC listening on grpc://127.0.0.1:PORT      (absent when gRPC is disabled)
//   hoard: ready
// The child is stopped by PID only (never by name), and `dispose()` removes the store
// directory the helper created.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'node');
export const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface RunResult {
  /** The exit status (1 when the process was killed, e.g. at its timeout). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the pinned node with `args` (e.g. [MAIN, 'check', ...] or a bench script) to its end. */
export function runNode(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      NODE_BIN,
      args,
      { cwd: REPO_ROOT, timeout: options.timeoutMs ?? 30_000, env: options.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

export interface SpawnOptions {
  /** Store directory; default a fresh temporary one (removed by dispose()). */
  readonly dir?: string;
  /** Extra environment for the child (merged over process.env). */
  readonly env?: Record<string, string | undefined>;
  /** How long to wait for `hoard: ready`. Default 20 s. */
  readonly startTimeoutMs?: number;
  /** Start gRPC on a free port too. Default true (pass false for `--grpc-address ''`). */
  readonly grpc?: boolean;
  /** The entry script to run `serve` from; default this checkout's src/cli/main.ts (MAIN). */
  readonly main?: string;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HoardProcess {
  readonly pid: number;
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly httpUrl: string;
  /** host:port for @grpc/grpc-js, or undefined when gRPC is not listening. */
  readonly grpcTarget: string | undefined;
  readonly dir: string;
  /** Sends `signal` (default SIGTERM) to the PID and resolves when the process exited. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  /** Sends a signal without waiting. */
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<Exit>;
  /** stdout and stderr so far, interleaved as received. */
  output(): string;
  /** Stops the process if still running (SIGKILL after 5 s) and removes a helper-made dir. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const HTTP_LINE = /^hoard: HTTP listening on (https?:\/\/\S+)$/m;
const GRPC_LINE = /^hoard: gRPC listening on grpcs?:\/\/(\S+)$/m;
const READY_LINE = /^hoard: ready$/m;

/**
 * Two servers started at once with the same flags (a fleet sharing one bucket), each with
 * its own directory. When either fails to start, the other is stopped before this throws.
 */
export async function spawnHoardPair(
  args: readonly string[],
  opts: SpawnOptions = {},
): Promise<[HoardProcess, HoardProcess]> {
  const [first, second] = await Promise.allSettled([spawnHoard(args, opts), spawnHoard(args, opts)]);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  await Promise.allSettled([first, second].map((r) => (r.status === 'fulfilled' ? r.value.dispose() : undefined)));
  throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason;
}

export async function spawnHoard(args: readonly string[] = [], opts: SpawnOptions = {}): Promise<HoardProcess> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'hoard-test-')));
  const grpcArgs = opts.grpc === false ? ['--grpc-address', ''] : ['--grpc-address', '127.0.0.1:0'];
  // Later flags win in commander, so `args` can override any default given here.
  const argv = [opts.main ?? MAIN, 'serve', '--dir', dir, '--http-address', '127.0.0.1:0', ...grpcArgs, ...args];
  const child = spawn(NODE_BIN, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (out += s));

  let exitInfo: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`hoard serve did not print "hoard: ready" within ${opts.startTimeoutMs ?? 20_000} ms:\n${out}`));
    }, opts.startTimeoutMs ?? 20_000);
    child.stdout.on('data', (s: string) => {
      out += s;
      stdout += s;
      if (READY_LINE.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`hoard serve exited (code ${e.code}, signal ${e.signal}) before it was ready:\n${out}`));
    });
  });
  // Keep a late rejection (exit after ready) from surfacing as unhandled.
  ready.catch(() => undefined);

  try {
    await ready;
  } catch (err) {
    if (exitInfo === undefined && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const pid = child.pid as number;
  const httpUrl = HTTP_LINE.exec(stdout)?.[1];
  if (httpUrl === undefined) throw new Error(`hoard serve printed no HTTP listening line:\n${out}`);
  const grpcTarget = GRPC_LINE.exec(stdout)?.[1];

  const signal = (sig: NodeJS.Signals): void => {
    if (exitInfo === undefined) process.kill(pid, sig);
  };
  const stop = async (sig: NodeJS.Signals = 'SIGTERM'): Promise<Exit> => {
    signal(sig);
    return exited;
  };
  const dispose = async (): Promise<void> => {
    if (exitInfo === undefined) {
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  return {
    pid,
    httpUrl: httpUrl.replace(/\/$/, ''),
    grpcTarget,
    dir,
    stop,
    signal,
    exited,
    output: () => out,
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
