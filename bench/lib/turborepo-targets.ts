// The servers bench/turborepo.ts compares, each taking the same bearer token on every
// request: hoard (`hoard serve` with an access file holding the token's sha256, its disk
// store with its usual durability) and turborepo-remote-cache (the npm devDependency, a
// Node/Fastify server, local-disk storage in a temporary directory, configured by its
// environment variables as its README documents them). The token is made fresh per run and
// goes to the peer by its environment: it never appears in a description or a log line.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, startChild, waitForPort } from './processes.ts';
import { formatSize } from './section.ts';
import { startHoard } from './targets.ts';

/** The peer's name in rows, goals and tables. */
export const TURBO_PEER = 'turborepo-remote-cache';

/** A server of this benchmark: a base URL serving /v8/artifacts/<hash>, its processes, a stop. */
export interface ArtifactServer {
  readonly name: string;
  readonly url: string;
  /** Processes whose CPU and RSS count as the server's. */
  readonly pids: readonly number[];
  /** One line saying what runs (version, settings; never the token). */
  readonly describe: string;
  stop(): Promise<void>;
}

/** One read/write bearer token for the run, and hoard's access file granting it everything. */
export interface TokenFixture {
  /** `Bearer <token>`, the Authorization value every request carries. */
  readonly authorization: string;
  /** The bare token (the peer's TURBO_TOKEN). */
  readonly token: string;
  readonly accessFile: string;
  dispose(): Promise<void>;
}

export async function makeTokenFixture(): Promise<TokenFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-turbo-token-'));
  const token = `hoard_${randomBytes(24).toString('base64url')}`;
  const sha256 = createHash('sha256').update(token).digest('hex');
  const accessFile = path.join(dir, 'access.yaml');
  await writeFile(
    accessFile,
    stringify({ tokens: [{ name: 'bench', sha256, scopes: ['read', 'write'], namespaces: ['*'] }] }),
  );
  return {
    authorization: `Bearer ${token}`,
    token,
    accessFile,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `hoard serve` (HTTP only) admitting the fixture's token; named `hoard`. */
export async function startTurboHoard(fx: TokenFixture, extraArgs: readonly string[]): Promise<ArtifactServer> {
  const t = await startHoard({ grpc: false, extraArgs: ['--access-file', fx.accessFile, ...extraArgs] });
  return {
    name: t.name,
    url: t.httpUrl as string,
    pids: t.pids,
    // The access file's temporary path says nothing; its role does.
    describe: t.describe.replace(fx.accessFile, '<access file: one read/write token>'),
    stop: () => t.stop(),
  };
}

/** The peer's entry script, resolved through node_modules/.bin (its shebang would pick the system node). */
function peerEntry(): { script: string; version: string } {
  const root = path.resolve(import.meta.dirname, '..', '..');
  const script = realpathSync(path.join(root, 'node_modules', '.bin', 'turborepo-remote-cache'));
  const pkg = JSON.parse(readFileSync(path.join(path.dirname(script), '..', 'package.json'), 'utf8')) as {
    version?: string;
  };
  return { script, version: pkg.version ?? 'unknown' };
}

/**
 * turborepo-remote-cache on 127.0.0.1, run by this process's node (24), storing artifacts
 * under a fresh temporary directory. `bodyLimit`: its largest request body in bytes (the
 * default, 100 MiB, refuses the large artifacts; it reads a whole upload into memory before
 * writing it, so the limit is also what one upload may cost it in RSS).
 */
export async function startTurboPeer(fx: TokenFixture, bodyLimit: number): Promise<ArtifactServer> {
  const { script, version } = peerEntry();
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-turbo-peer-'));
  const port = await freePort();
  const settings = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'error',
    STORAGE_PROVIDER: 'local',
    STORAGE_PATH: path.join(dir, 'cache'),
    STORAGE_PATH_USE_TMP_FOLDER: 'false',
    BODY_LIMIT: String(bodyLimit),
    AUTH_MODE: 'static',
  };
  const child = startChild(process.execPath, [script], { env: { ...process.env, ...settings, TURBO_TOKEN: fx.token } });
  try {
    await waitForPort(port, child);
  } catch (err) {
    await child.stop(2000);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const shown = Object.entries(settings)
    .filter(([k]) => k !== 'STORAGE_PATH' && k !== 'PORT')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return {
    name: TURBO_PEER,
    url: `http://127.0.0.1:${port}`,
    pids: [child.pid],
    describe: `${TURBO_PEER} ${version} (node ${process.version}) ${shown} (${formatSize(bodyLimit)}: the run's largest upload and 1 MiB; its default is 100 MiB), TURBO_TOKEN set; local storage writes each artifact in place without fsync`,
    async stop() {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
