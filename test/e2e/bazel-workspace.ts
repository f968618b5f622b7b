// Drives the real Bazel (Debian's bazel-bootstrap 4.2.3) in a private copy of the offline test
// workspace. Contracts:
// - one private --output_user_root per workspace, so tests never share or disturb a user's
//   Bazel server; every command uses the same startup options, so they reuse one server;
// - never --ignore_all_rc_files (Debian's /etc/bazel/bazelrc sets the install base), but
//   --disk_cache= so a user's rc file cannot answer from a local disk cache instead of hoard,
//   and the remote cache behaviour flags spelled out;
// - every build is salted through the action environment, so the first build is always cold;
// - dispose() shuts the Bazel server down by command, then by the PID it recorded, and removes
//   the directory. Nothing is ever killed by name.
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashBytes } from '../../src/core/digest.ts';
import { parseExecutionLog, parseProcessSummary, type LoggedSpawn, type ProcessSummary } from './build-summary.ts';
import { runCommand, tail, tempDir, type CommandResult } from './clients.ts';

const FIXTURE = fileURLToPath(new URL('./workspaces/bazel/', import.meta.url));

export interface BuildResult extends CommandResult {
  /** Parsed summary line; undefined when Bazel printed none (e.g. it failed early). */
  readonly summary: ProcessSummary | undefined;
  /** Spawns from --execution_log_json_file (empty when the build wrote no log). */
  readonly spawns: readonly LoggedSpawn[];
}

export interface BuildOptions {
  readonly salt: string;
  /** e.g. http://127.0.0.1:PORT/prefix or grpc://127.0.0.1:PORT */
  readonly remoteCache: string;
  /** Extra build flags, e.g. ['--remote_download_minimal']. */
  readonly flags?: readonly string[];
  readonly targets: readonly string[];
}

export interface BazelWorkspace {
  readonly dir: string;
  bazel(args: readonly string[]): Promise<CommandResult>;
  build(opts: BuildOptions): Promise<BuildResult>;
  /** `bazel clean --expunge`: drops the output base (and the server) so nothing is local. */
  cleanExpunge(): Promise<void>;
  /** sha256 of each file under bazel-bin/<path> (directories recursively), keyed by path. */
  hashOutputs(paths: readonly string[]): Promise<Map<string, string>>;
  dispose(): Promise<void>;
}

export async function createBazelWorkspace(): Promise<BazelWorkspace> {
  const tmp = await tempDir('hoard-e2e-bazel-');
  const dir = join(tmp.path, 'ws');
  const userRoot = join(tmp.path, 'root');
  await cp(FIXTURE, dir, { recursive: true });
  let logCount = 0;

  const bazel = (args: readonly string[]): Promise<CommandResult> =>
    runBazel(dir, [`--output_user_root=${userRoot}`, '--max_idle_secs=600', ...args]);

  const build = async (opts: BuildOptions): Promise<BuildResult> => {
    const execLog = join(tmp.path, `exec-${++logCount}.json`);
    const r = await bazel([
      'build',
      '--color=no',
      '--curses=no',
      '--nosandbox_debug',
      '--disk_cache=',
      `--action_env=SALT=${opts.salt}`,
      `--host_action_env=SALT=${opts.salt}`,
      `--remote_cache=${opts.remoteCache}`,
      // Explicit, so a user's ~/.bazelrc cannot change what the assertions mean; opts.flags
      // come later and win (e.g. --remote_download_minimal).
      '--remote_accept_cached',
      '--remote_upload_local_results',
      '--remote_download_outputs=all',
      `--execution_log_json_file=${execLog}`,
      ...(opts.flags ?? []),
      '--',
      ...opts.targets,
    ]);
    let summary: ProcessSummary | undefined;
    try {
      summary = parseProcessSummary(r.output);
    } catch {
      summary = undefined;
    }
    const spawns = await readFile(execLog, 'utf8').then(parseExecutionLog, () => []);
    return { ...r, summary, spawns };
  };

  const cleanExpunge = async (): Promise<void> => {
    const r = await bazel(['clean', '--expunge', '--color=no', '--curses=no']);
    if (r.code !== 0) throw new Error(`bazel clean --expunge exited ${r.code}:\n${tail(r.output)}`);
  };

  const hashOutputs = async (paths: readonly string[]): Promise<Map<string, string>> => {
    const hashes = new Map<string, string>();
    for (const p of paths) await hashTree(join(dir, 'bazel-bin'), p, hashes);
    return hashes;
  };

  const dispose = async (): Promise<void> => {
    const pids = await serverPids(userRoot);
    const r = await bazel(['shutdown']).catch(() => undefined);
    if (r?.code !== 0) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    // The output base holds read-only directories; make them writable before removal.
    await runCommand('chmod', ['-R', 'u+w', tmp.path], tmp.path).catch(() => undefined);
    await tmp.remove();
  };

  return { dir, bazel, build, cleanExpunge, hashOutputs, dispose };
}

async function hashTree(root: string, rel: string, into: Map<string, string>): Promise<void> {
  const abs = join(root, rel);
  const st = await stat(abs);
  if (st.isDirectory()) {
    for (const name of (await readdir(abs)).sort()) await hashTree(root, join(rel, name), into);
    return;
  }
  into.set(rel, hashBytes(await readFile(abs)));
}

/** PIDs of Bazel servers under the user root (server/server.pid.txt in each output base). */
async function serverPids(userRoot: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir(userRoot).catch(() => [] as string[])) {
    const text = await readFile(join(userRoot, entry, 'server', 'server.pid.txt'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isSafeInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

function runBazel(cwd: string, args: readonly string[]): Promise<CommandResult> {
  return runCommand('bazel', args, cwd);
}
