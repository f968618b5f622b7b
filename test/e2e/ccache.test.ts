// End-to-end: the real ccache (Debian 4.7.x) in remote_only mode against `hoard serve`, for
// each of ccache's HTTP layouts. A cold run fills the cache, a second run with a fresh private
// CCACHE_DIR must be answered entirely by hoard: proven by `ccache --print-stats`
// (remote_storage_hit for every compile, no miss, no error), since ccache quietly compiles
// locally when its remote storage fails.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { compileAll, SOURCES, stat, writeSources, type CcacheRun } from './ccache-run.ts';
import { findClient, newSalt, tail, tempDir } from './clients.ts';

const ccache = findClient('ccache', ['--version'], 'apt-get install ccache');
const LAYOUTS = ['subdirs', 'flat', 'bazel'] as const;

describe('ccache remote_only against hoard', { skip: ccache.skip }, () => {
  let hoard: HoardProcess;
  let tmp: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    tmp = await tempDir('hoard-e2e-ccache-');
    // ccache's layout=bazel writes its own bytes under <prefix>/ac/: not ActionResults, so
    // that prefix's AC entries are raw. Bazel clients elsewhere on the server keep validation.
    hoard = await spawnHoard(['--raw-ac-prefixes', 'ccache'], { grpc: false });
  });
  after(async () => {
    await hoard?.dispose();
    await tmp?.remove();
  });

  for (const layout of LAYOUTS) {
    test(`layout=${layout}: the second run is all remote hits with identical objects`, async (t) => {
      const started = performance.now();
      const salt = newSalt(`ccache-${layout}`);
      const src = join(tmp.path, layout);
      await writeSources(src, salt);
      const remote = `${hoard.httpUrl}/ccache|layout=${layout}`;

      const cold = await compileAll(src, 'cold', remote);
      const explain = (run: CcacheRun, problem: string): string =>
        `${problem}\nstats: ${JSON.stringify(Object.fromEntries([...run.stats].filter(([, v]) => v !== 0)))}\n` +
        `--- ccache:\n${tail(run.log, 30)}\n--- hoard:\n${tail(hoard.output(), 30)}`;
      assert.equal(stat(cold, 'remote_storage_error'), 0, explain(cold, 'cold run: remote storage errors'));
      assert.equal(stat(cold, 'remote_storage_hit'), 0, explain(cold, 'cold run hit the cache (salt not effective?)'));
      assert.equal(stat(cold, 'remote_storage_miss'), SOURCES, explain(cold, 'cold run: misses'));
      assert.ok(stat(cold, 'remote_storage_write') >= SOURCES, explain(cold, 'cold run: nothing written to hoard'));

      const warm = await compileAll(src, 'warm', remote);
      assert.equal(stat(warm, 'remote_storage_error'), 0, explain(warm, 'warm run: remote storage errors'));
      assert.equal(stat(warm, 'remote_storage_timeout'), 0, explain(warm, 'warm run: remote storage timeouts'));
      assert.equal(stat(warm, 'remote_storage_miss'), 0, explain(warm, 'warm run: remote misses'));
      assert.equal(stat(warm, 'remote_storage_hit'), SOURCES, explain(warm, 'warm run: not all remote hits'));
      assert.equal(stat(warm, 'cache_miss'), 0, explain(warm, 'warm run: ccache compiled something'));
      assert.equal(stat(warm, 'local_storage_hit'), 0, explain(warm, 'warm run: local storage was used'));
      assert.deepEqual(warm.objects, cold.objects, 'objects from the cache differ from the compiled ones');
      t.diagnostic(`layout=${layout}: ${Math.round(performance.now() - started)} ms`);
    });
  }
});

describe('ccache with a bearer token against a secured hoard', { skip: ccache.skip }, () => {
  let hoard: HoardProcess;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fx: AccessFixtures;

  before(async () => {
    tmp = await tempDir('hoard-e2e-ccache-token-');
    fx = await makeAccessFixtures();
    hoard = await spawnHoard(['--access-file', fx.accessFile], { grpc: false });
  });
  after(async () => {
    await hoard?.dispose();
    await tmp?.remove();
    await fx?.close();
  });

  test('the writer token fills the cache, the second run is all remote hits; a wrong token stores nothing', async () => {
    const salt = newSalt('ccache-token');
    const src = join(tmp.path, 'token');
    await writeSources(src, salt);
    const remote = (token: string) => `${hoard.httpUrl}/ccache-token|bearer-token=${token}`;

    const refused = await compileAll(src, 'refused', remote('hoard_wrong'));
    assert.equal(stat(refused, 'remote_storage_hit'), 0, 'a wrong token read something');
    assert.ok(stat(refused, 'remote_storage_error') > 0, 'a wrong token must show as remote storage errors');

    const cold = await compileAll(src, 'cold', remote(fx.tokens['writer']!));
    assert.equal(stat(cold, 'remote_storage_error'), 0, `cold run: remote storage errors\n${tail(cold.log, 30)}`);
    assert.equal(stat(cold, 'remote_storage_miss'), SOURCES, 'cold run: misses (did the wrong token store something?)');
    const warm = await compileAll(src, 'warm', remote(fx.tokens['reader']!));
    assert.equal(stat(warm, 'remote_storage_error'), 0, `warm run: remote storage errors\n${tail(warm.log, 30)}`);
    assert.equal(stat(warm, 'remote_storage_hit'), SOURCES, 'warm run (read-only token): not all remote hits');
    assert.deepEqual(warm.objects, cold.objects);
  });
});
