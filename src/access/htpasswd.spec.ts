import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { parseHtpasswd, verifyHtpasswd } from './htpasswd.ts';

const htpasswd = (form: string, user: string, pw: string) =>
  execFileSync('htpasswd', ['-nb', form, user, pw], { encoding: 'utf8' }).trim();

test('each form htpasswd writes verifies its password and no other', async () => {
  const text = ['# team', htpasswd('-B', 'a', 'pa'), '', htpasswd('-m', 'b', 'pb'), htpasswd('-s', 'c', 'pc')].join(
    '\n',
  );
  const users = parseHtpasswd(text, 'f');
  assert.deepEqual([...users.keys()], ['a', 'b', 'c']);
  for (const [user, pw] of [
    ['a', 'pa'],
    ['b', 'pb'],
    ['c', 'pc'],
  ] as const) {
    assert.equal(await verifyHtpasswd(users.get(user)!, pw), true, user);
    assert.equal(await verifyHtpasswd(users.get(user)!, `${pw}x`), false, user);
  }
});

test('crypt and plain-text lines fail the file with their line number and without their content', () => {
  for (const form of ['-d', '-p']) {
    const line = htpasswd(form, 'u', 'secret-pw');
    assert.throws(
      () => parseHtpasswd(`# x\n${line}\n`, 'pw.txt'),
      (err: Error) => /^pw\.txt:2: /.test(err.message) && !err.message.includes(line.split(':')[1]!),
    );
  }
  assert.throws(() => parseHtpasswd('no-colon\n', 'f'), /f:1/);
});
