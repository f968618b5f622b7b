// Starts turborepo-remote-cache (the npm devDependency, a Node/Fastify Turborepo cache) on
// 127.0.0.1 for tests that compare hoard with it: local storage in a fresh temporary
// directory, one accepted TURBO_TOKEN, a free port. It is configured by environment only,
// and the environment is built here from scratch so nothing of the caller's leaks in. The
// child is run by the pinned node (24) and stopped by its PID.
import { realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitForPort } from '../../bench/lib/processes.ts';
import { NODE_BIN, REPO_ROOT } from './spawn-server.ts';

export interface TurborepoRemoteCache {
  /** e.g. http://127.0.0.1:41234: what turbo's --api gets. */
  readonly url: string;
  readonly pid: number;
  /** Everything it printed (warnings and errors only). */
  output(): string;
  /** Stops it by PID (SIGKILL if it is still there after 5 s) and removes its storage. */
  dispose(): Promise<void>;
}

export async function startTurborepoRemoteCache(opts: {
  token: string;
  env?: Record<string, string>;
}): Promise<TurborepoRemoteCache> {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-trc-'));
  const port = await freePort();
  const script = realpathSync(join(REPO_ROOT, 'node_modules', '.bin', 'turborepo-remote-cache'));
  const child = startChild(NODE_BIN, [script], {
    cwd: dir,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      TURBO_TOKEN: opts.token,
      STORAGE_PROVIDER: 'local',
      STORAGE_PATH: join(dir, 'artifacts'),
      STORAGE_PATH_USE_TMP_FOLDER: 'false',
      LOG_LEVEL: 'warn',
      ...opts.env,
    },
  });
  try {
    await waitForPort(port, child, 20_000);
  } catch (err) {
    await child.stop(2000);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    output: () => child.output(),
    async dispose() {
      await child.stop(5000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
