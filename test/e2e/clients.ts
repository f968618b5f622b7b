// Finds the real build clients the end-to-end tests drive, and decides what happens when one
// is missing: skip with a reason on a developer machine, fail under CI (`.ci/run` installs
// them, so a missing client there is a broken CI, not a reason to skip).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClientCheck {
  /** The client's version line, when it is installed. */
  readonly version?: string;
  /** A skip reason for node:test, or false to run. */
  readonly skip: string | false;
}

/**
 * Looks for `command` on PATH by running it with `versionArgs`. Throws under CI when it is
 * missing, so the test file fails loudly instead of skipping.
 */
export function findClient(command: string, versionArgs: readonly string[], installHint: string): ClientCheck {
  const r = spawnSync(command, versionArgs, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error === undefined && r.status === 0) {
    const version =
      `${r.stdout}\n${r.stderr}`
        .split('\n')
        .find((l) => l.trim() !== '')
        ?.trim() ?? command;
    return { version, skip: false };
  }
  const reason = `${command} is not installed (${installHint}); skipping the ${command} end-to-end tests`;
  if (process.env.CI !== undefined && process.env.CI !== '') {
    throw new Error(`${reason} is not allowed under CI: .ci/run must install it`);
  }
  return { skip: reason };
}

/** A fresh temporary directory, and its removal. */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A salt unique to this run, so the first build of every test starts from a cold cache. */
export function newSalt(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The last `lines` lines of a (possibly long) output, for failure messages. */
export function tail(text: string, lines = 60): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

const COMMAND_TIMEOUT_MS = 300_000;

export interface CommandResult {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly output: string;
  readonly durationMs: number;
}

/**
 * Runs a build client, capturing stdout and stderr interleaved; kills it by PID after
 * 5 minutes, so a hung client fails its test instead of hanging the suite.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    const timer = setTimeout(() => {
      output += `\n[e2e harness: ${command} timed out after ${COMMAND_TIMEOUT_MS} ms, killed]\n`;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, COMMAND_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ args, code, output, durationMs: performance.now() - started });
    });
  });
}
