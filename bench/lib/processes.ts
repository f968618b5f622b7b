// Child processes of a benchmark run (servers under test, wrk): started here, stopped by
// PID here, never by name. A server is "up" when a line on its output says so, or when its
// port accepts connections.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Child {
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved), for error messages. */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function startChild(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Child {
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${command}`);
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    // Servers with access logs print a lot: keep the head (listening lines) and the tail.
    if (out.length > 200_000) out = out.slice(0, 20_000) + '\n[...]\n' + out.slice(-100_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    proc.once('error', () => resolve({ code: null, signal: null }));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const pid = proc.pid;
  return {
    pid,
    proc,
    output: () => out,
    exited,
    async stop(graceMs = 10_000) {
      if (gone) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!gone) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A port that was free a moment ago on 127.0.0.1 (for servers that cannot take port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Waits until 127.0.0.1:port accepts a TCP connection. */
export async function waitForPort(port: number, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (exited)
      throw new Error(`process ${child.pid} exited before listening on ${port}:\n${child.output().slice(-2000)}`);
    await sleep(50);
  }
  throw new Error(`timed out waiting for port ${port}:\n${child.output().slice(-2000)}`);
}
