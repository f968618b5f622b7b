// End-to-end: the real turbo (the devDependency) against `hoard serve` with an access file. A
// cold run fills the cache; a second run, with every local trace of the first wiped, must take
// every task from hoard: proven by turbo's own run summary (`cache.status` HIT, `source`
// REMOTE for each task) and identical outputs, since turbo quietly runs tasks itself when its
// remote cache fails. Also with signed artifacts (turbo verifies x-artifact-tag before it
// restores), and with a read-only token, which gets hits and stores nothing.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { rawRequest } from '../helpers/test-server.ts';
import { findClient, newSalt, tail, tempDir } from './clients.ts';
import { commitTurbo, makeTurboWorkspace, PACKAGES, runTurbo, TURBO, type TurboRun } from './turbo-workspace.ts';

const turbo = findClient(TURBO, ['--version'], 'npm install (turbo is a devDependency)');
// HMAC-SHA256 key; turbo warns about keys under 32 bytes.
const SIGNATURE_KEY = 'hoard-e2e-signature-key-0123456789abcdef';

describe('turbo against hoard', { skip: turbo.skip }, () => {
  let fx: AccessFixtures;
  let hoard: HoardProcess;
  let tmp: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    tmp = await tempDir('hoard-e2e-turbo-');
    fx = await makeAccessFixtures();
    hoard = await spawnHoard(['--access-file', fx.accessFile], { grpc: false });
  });
  after(async () => {
    await hoard?.dispose();
    await fx?.close();
    await tmp?.remove();
  });

  const build = (dir: string, token: string, team: string, signed = false): Promise<TurboRun> =>
    runTurbo(dir, {
      api: hoard.httpUrl,
      token,
      team,
      ...(signed ? { signatureKey: SIGNATURE_KEY } : {}),
      context: () => `--- hoard:\n${tail(hoard.output(), 30)}`,
    });
  const artifactHead = (hash: string, team: string) =>
    rawRequest(hoard.httpUrl, 'HEAD', `/v8/artifacts/${hash}?slug=${team}`, undefined, {
      authorization: `Bearer ${fx.tokens['writer']!}`,
    });

  for (const signed of [false, true]) {
    test(`${signed ? 'signed artifacts: ' : ''}the second run takes every task from hoard, outputs identical`, async () => {
      const dir = join(tmp.path, signed ? 'signed' : 'plain');
      const team = signed ? 'signed-team' : 'plain-team';
      await makeTurboWorkspace(dir, newSalt('turbo'), { signed });
      const writer = fx.tokens['writer']!;

      const cold = await build(dir, writer, team, signed);
      assert.equal(cold.tasks.length, PACKAGES.length);
      for (const t of cold.tasks) assert.equal(t.cache.status, 'MISS', `${t.taskId} cold\n${tail(cold.log)}`);

      const warm = await build(dir, writer, team, signed);
      assert.deepEqual(
        warm.statuses,
        Object.fromEntries(PACKAGES.map((p) => [`${p}#build`, 'HIT REMOTE'])),
        tail(warm.log),
      );
      assert.deepEqual(warm.outputs, cold.outputs);
      // The tag turbo signed with went into hoard and came back as it was sent.
      const stored = await artifactHead(cold.tasks[0]!.hash, team);
      assert.equal(stored.status, 200);
      if (signed) assert.match(String(stored.headers['x-artifact-tag']), /^[A-Za-z0-9+/]{43}=$/);
      else assert.equal(stored.headers['x-artifact-tag'], undefined);
      assert.match(String(stored.headers['x-artifact-duration']), /^\d+$/);
    });
  }

  test('a read-only token gets remote hits and stores nothing; the run still succeeds', async () => {
    const dir = join(tmp.path, 'read-only');
    const team = 'ro-team';
    await makeTurboWorkspace(dir, newSalt('turbo-ro'));
    const seeded = await build(dir, fx.tokens['writer']!, team);

    // c changes: the reader misses it, runs it, and may not upload it.
    await writeFile(join(dir, 'packages', 'c', 'salt.txt'), `${newSalt('turbo-ro-c')}\n`);
    await commitTurbo(dir);
    const ro = await build(dir, fx.tokens['reader']!, team);
    assert.deepEqual(
      ro.statuses,
      { 'a#build': 'HIT REMOTE', 'b#build': 'HIT REMOTE', 'c#build': 'MISS' },
      tail(ro.log),
    );
    assert.equal(ro.outputs.get('a'), seeded.outputs.get('a'));
    assert.equal(ro.outputs.get('b'), seeded.outputs.get('b'));
    const c = ro.tasks.find((t) => t.taskId === 'c#build')!;
    assert.notEqual(c.hash, seeded.tasks.find((t) => t.taskId === 'c#build')!.hash);
    assert.equal((await artifactHead(c.hash, team)).status, 404, 'the reader stored nothing');
    // turbo tried, was refused, and said so without failing the run.
    assert.match(ro.log, /WARNING.*(permission_denied|403)/);
  });
});
