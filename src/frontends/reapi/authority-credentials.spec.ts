import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basicFromUserinfo, hasUserinfo, moveUserinfo, splitAuthority } from './authority-credentials.ts';
import type { HeaderField } from './hpack-codec.ts';

const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
const field = (name: string, value: string, sensitive = false): HeaderField => ({ name, value, sensitive });

test('user info is what comes before the last @', () => {
  assert.equal(hasUserinfo('127.0.0.1:9092'), false);
  assert.equal(splitAuthority('cache.example.com'), undefined);
  assert.deepEqual(splitAuthority('alice:pw@cache:9092'), { host: 'cache:9092', userinfo: 'alice:pw' });
  assert.deepEqual(splitAuthority('alice:p@ss@[::1]:9092'), { host: '[::1]:9092', userinfo: 'alice:p@ss' });
  assert.deepEqual(splitAuthority('@host'), { host: 'host', userinfo: '' });
});

test('Basic credentials from user info: percent-decoded to bytes, a missing password is empty', () => {
  assert.equal(basicFromUserinfo('alice:alice-pw'), basic('alice:alice-pw'));
  assert.equal(basicFromUserinfo('al%69ce:p%40ss%3Aword'), basic('alice:p@ss:word'));
  assert.equal(basicFromUserinfo('bob:%E2%82%AC'), basic('bob:€')); // UTF-8 bytes stay bytes
  assert.equal(basicFromUserinfo('bob:100%'), basic('bob:100%')); // a stray % stays
  assert.equal(basicFromUserinfo('bob:%zz%4'), basic('bob:%zz%4'));
  assert.equal(basicFromUserinfo('token'), basic('token:'));
});

test('moveUserinfo: the authority keeps its host, authorization is added never-indexed, in place of nothing else', () => {
  const fields = [
    field(':method', 'POST'),
    field(':authority', 'alice:pw@h:1'),
    field(':path', '/x'),
    field('te', 'trailers'),
  ];
  assert.deepEqual(moveUserinfo(fields), [
    field(':method', 'POST'),
    field(':authority', 'h:1'),
    field(':path', '/x'),
    field('te', 'trailers'),
    field('authorization', basic('alice:pw'), true),
  ]);
});

test('moveUserinfo: an explicit authorization wins; a block without user info or authority is returned as is', () => {
  const explicit = [field(':authority', 'alice:pw@h:1'), field('authorization', 'Bearer t')];
  assert.deepEqual(moveUserinfo(explicit), [field(':authority', 'h:1'), field('authorization', 'Bearer t')]);
  const plain = [field(':authority', 'h:1'), field(':path', '/')];
  assert.equal(moveUserinfo(plain), plain);
  const trailers = [field('grpc-status', '0')];
  assert.equal(moveUserinfo(trailers), trailers);
});
