// Run once around all test files (`node --test --test-global-setup=test/global-setup.ts`,
// in the test runner's own process): starts the one Ceph RGW the S3 tests share and hands
// it to them through the HOARD_TEST_RGW_* environment variables (test files run as child
// processes, which inherit the runner's environment as it is once this has run).
//
// - Ceph installed: the fixture starts (~4 s, ~140 MB); globalTeardown stops it by PID.
// - Ceph missing: nothing starts and the S3 test files skip with a reason, unless CI is set:
//   then the run fails here, as a missing build client fails the end-to-end tests.
// - HOARD_TEST_RGW_ENDPOINT already set: that endpoint is used as it is (a fixture a
//   developer keeps running between runs); this starts and stops nothing.
// - HOARD_TEST_RGW=off: starts nothing (not allowed under CI).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cephInstalled, CEPH_INSTALL_HINT, RGW_ENV, startCephRgw, type RgwFixture } from './helpers/ceph-rgw.ts';

let started: RgwFixture | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env[RGW_ENV.endpoint]) return;
  const underCi = process.env.CI !== undefined && process.env.CI !== '';
  if (process.env.HOARD_TEST_RGW === 'off' && !underCi) return;
  if (!cephInstalled()) {
    if (underCi) throw new Error(`Ceph RGW is not installed (${CEPH_INSTALL_HINT}): under CI .ci/run must install it`);
    return;
  }
  const t0 = performance.now();
  started = await startCephRgw();
  // If the runner dies without calling globalTeardown, its daemons must not outlive it.
  process.once('exit', stopNow);
  Object.assign(process.env, {
    [RGW_ENV.endpoint]: started.endpoint,
    [RGW_ENV.region]: started.region,
    [RGW_ENV.accessKey]: started.accessKeyId,
    [RGW_ENV.secretKey]: started.secretAccessKey,
    [RGW_ENV.dir]: started.dir,
  });
  if (process.env.HOARD_TEST_RGW_VERBOSE)
    console.error(`global setup: Ceph RGW at ${started.endpoint} in ${Math.round(performance.now() - t0)} ms`);
}

export async function globalTeardown(): Promise<void> {
  const fixture = started;
  started = undefined;
  if (!fixture) return;
  process.removeListener('exit', stopNow);
  await fixture.stop();
}

/** The synchronous last resort of an exiting runner: stop.sh by the recorded PIDs. */
function stopNow(): void {
  if (!started) return;
  spawnSync(fileURLToPath(new URL('fixtures/ceph-rgw/stop.sh', import.meta.url)), [started.dir], { stdio: 'ignore' });
}
