// A real S3 endpoint for tests: a single-host Ceph cluster with the RADOS Gateway, started by
// test/fixtures/ceph-rgw/start.sh (memstore OSD, auth none) and stopped by PID by stop.sh.
//
// Two ways to get one:
// - `rgwFromEnv()`: the fixture test/global-setup.ts started once for the whole run and
//   described in HOARD_TEST_RGW_* variables. Every test file shares it, concurrently: take a
//   bucket of your own (`createBucket(uniqueBucketName(...))`), and never stop its gateway
//   (its `stopGateway()` refuses, another file's requests would fail).
// - `startCephRgw()`: a fixture of the file's own (~4 s), for tests that take the gateway
//   away ("the bucket goes away mid-build") or need a cluster nobody else touches.
//
// `rgwForFile()` gives a spec file what it should use: the shared fixture, else one of its own
// when Ceph is installed (a file run alone), else a skip reason; under CI a missing Ceph is
// an error instead (.ci/run installs it), as test/e2e/clients.ts does for build clients.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/ceph-rgw/', import.meta.url));
const CEPH_COMMANDS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool'] as const;
export const CEPH_INSTALL_HINT = 'apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common';

/** The environment variables through which the run's shared fixture reaches test files. */
export const RGW_ENV = {
  endpoint: 'HOARD_TEST_RGW_ENDPOINT',
  region: 'HOARD_TEST_RGW_REGION',
  accessKey: 'HOARD_TEST_RGW_ACCESS_KEY',
  secretKey: 'HOARD_TEST_RGW_SECRET_KEY',
  dir: 'HOARD_TEST_RGW_DIR',
} as const;

export interface RgwFixture {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Where the cluster's configuration, logs and PID files live. */
  readonly dir: string;
  /** Creates a bucket (idempotent for an owner); resolves its name. */
  createBucket(name: string): Promise<string>;
  /** A client for raw checks (HeadObject, ListMultipartUploads); the caller destroys it. */
  client(): S3Client;
  /** Kills radosgw only (by PID): the S3 endpoint refuses connections, the objects stay. */
  stopGateway(): Promise<void>;
  /** Starts radosgw again on the same port; resolves once it answers. */
  startGateway(): Promise<void>;
  /** Kills every daemon by PID and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/** Whether every Ceph command the fixture runs is on PATH. */
export function cephInstalled(): boolean {
  return CEPH_COMMANDS.every((c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0);
}

function underCi(): boolean {
  return process.env.CI !== undefined && process.env.CI !== '';
}

/** A free TCP port on 127.0.0.1 (free when asked: the fixture binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function run(script: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(join(FIXTURE, script), args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${script} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Starts a fresh cluster under a new temporary directory, on free ports. Rejects with the
 * script's reason (missing binaries, a daemon that did not come up), having stopped
 * whatever it started.
 */
export async function startCephRgw(): Promise<RgwFixture> {
  const dir = join(tmpdir(), `hoard-rgw-${process.pid}-${Date.now().toString(36)}`);
  const [rgwPort, monPort] = [await freePort(), await freePort()];
  await run('start.sh', [dir, String(rgwPort), String(monPort)], 120_000);
  return fixtureAt(dir, await readEnvFile(dir), true);
}

/** The run's shared fixture (test/global-setup.ts), or undefined when there is none. */
export function rgwFromEnv(): RgwFixture | undefined {
  const endpoint = process.env[RGW_ENV.endpoint];
  const accessKeyId = process.env[RGW_ENV.accessKey];
  const secretAccessKey = process.env[RGW_ENV.secretKey];
  const dir = process.env[RGW_ENV.dir];
  if (!endpoint || !accessKeyId || !secretAccessKey || !dir) return undefined;
  const region = process.env[RGW_ENV.region] || 'us-east-1';
  return fixtureAt(dir, { endpoint, region, accessKeyId, secretAccessKey }, false);
}

export interface RgwForFile {
  /** The fixture to use, when there is one. */
  readonly rgw?: RgwFixture;
  /** A skip reason for node:test, or false to run. */
  readonly skip: string | false;
  /** Stops the fixture when the file started its own; a no-op for the shared one. */
  release(): Promise<void>;
}

/**
 * The fixture a test file uses: the run's shared one, or one of its own when Ceph is
 * installed and the file runs alone, or a skip reason. Throws under CI when Ceph is missing.
 */
export async function rgwForFile(): Promise<RgwForFile> {
  const shared = rgwFromEnv();
  if (shared) return { rgw: shared, skip: false, release: async () => undefined };
  if (!cephInstalled()) {
    const reason = `Ceph RGW is not installed (${CEPH_INSTALL_HINT}); skipping the tests against a real S3 bucket`;
    if (underCi()) throw new Error(`${reason} is not allowed under CI: .ci/run must install it`);
    return { skip: reason, release: async () => undefined };
  }
  const own = await startCephRgw();
  return { rgw: own, skip: false, release: () => own.stop() };
}

/**
 * For a file that starts a gateway of its own (to stop it: the shared one must never be):
 * a skip reason for node:test when Ceph is not installed, or false. Throws under CI.
 */
export function ownRgwSkip(): string | false {
  if (cephInstalled()) return false;
  const reason = `Ceph RGW is not installed (${CEPH_INSTALL_HINT})`;
  if (underCi()) throw new Error(`${reason}: .ci/run must install it`);
  return reason;
}

/** A bucket name no other test file or run uses (S3 rules: 3-63 lower-case letters, digits, '-'). */
export function uniqueBucketName(label: string): string {
  const suffix = `${process.pid.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return `${label.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${suffix}`.slice(0, 63).replace(/-+$/, '');
}

interface Access {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

async function readEnvFile(dir: string): Promise<Access> {
  const text = await readFile(join(dir, 'fixture.env'), 'utf8');
  const vars = new Map(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  const get = (name: string) => {
    const value = vars.get(name);
    if (!value) throw new Error(`${dir}/fixture.env has no ${name}`);
    return value;
  };
  return {
    endpoint: get('RGW_ENDPOINT'),
    region: get('RGW_REGION'),
    accessKeyId: get('RGW_ACCESS_KEY'),
    secretAccessKey: get('RGW_SECRET_KEY'),
  };
}

function fixtureAt(dir: string, access: Access, owned: boolean): RgwFixture {
  let stopped = false;
  const client = () =>
    new S3Client({
      endpoint: access.endpoint,
      region: access.region,
      forcePathStyle: true,
      credentials: { accessKeyId: access.accessKeyId, secretAccessKey: access.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  const notShared = (what: string) => {
    if (stopped) throw new Error(`${what}: the fixture at ${dir} was stopped`);
    if (!owned) {
      throw new Error(
        `${what}: the run's shared RGW serves other test files concurrently; start one of your own with startCephRgw()`,
      );
    }
  };
  return {
    ...access,
    dir,
    client,
    async createBucket(name) {
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
      return name;
    },
    async stopGateway() {
      notShared('stopGateway');
      await run('gateway.sh', [dir, 'stop'], 30_000);
    },
    async startGateway() {
      notShared('startGateway');
      await run('gateway.sh', [dir, 'start'], 90_000);
    },
    async stop() {
      if (stopped) return;
      notShared('stop');
      stopped = true;
      await run('stop.sh', [dir], 60_000);
    },
  };
}
