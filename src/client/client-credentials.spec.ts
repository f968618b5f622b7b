import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationOf, redactUrl, userinfoOf, withAuthorization, withoutUserinfo } from './client-credentials.ts';
import { tlsAlertIn } from './client-error.ts';

const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;

test('user info is percent-decoded into Basic; a token wins over it, and both over an authorization header', () => {
  const url = new URL('https://al%C3%AFce:p%40ss%3Aw%2Frd@cache.example/prefix');
  assert.deepEqual(userinfoOf(url), { user: 'alïce', password: 'p@ss:w/rd' });
  assert.equal(authorizationOf(url, {}), basic('alïce:p@ss:w/rd'));
  assert.equal(authorizationOf(url, { token: 'hoard_abc' }), 'Bearer hoard_abc');
  assert.equal(authorizationOf(new URL('grpc://h:1'), { basic: { user: 'u', password: '' } }), basic('u:'));
  assert.equal(authorizationOf(new URL('grpc://h:1'), {}), undefined);
  assert.deepEqual(withAuthorization({ Authorization: 'x', 'x-a': '1' }, 'Bearer t'), {
    'x-a': '1',
    authorization: 'Bearer t',
  });
  assert.deepEqual(withAuthorization({ Authorization: 'x' }, undefined), { Authorization: 'x' });
  assert.throws(() => authorizationOf(new URL('http://h'), { token: 'a b' }), /spaces or control characters/);
  assert.throws(
    () => userinfoOf(new URL('http://u:%E0%A4%A@h')),
    (err: Error) => !err.message.includes('%E0%A4%A'),
  );
});

test('redactUrl hides the password, whether or not the URL parses; withoutUserinfo drops user info', () => {
  assert.equal(redactUrl('http://u:secret@h:1/p'), 'http://u:***@h:1/p');
  assert.equal(redactUrl('grpcs://u:secret@h:1'), 'grpcs://u:***@h:1');
  assert.equal(redactUrl('http://h:1/a@b'), 'http://h:1/a@b');
  assert.equal(redactUrl('grpc://u@h:1'), 'grpc://u@h:1');
  assert.equal(redactUrl('http://u:se/cret@h:99999'), 'http://u:***@h:99999');
  assert.equal(redactUrl('not a url'), 'not a url');
  assert.equal(withoutUserinfo('http://u:secret@h:1/prefix'), 'http://h:1/prefix');
  assert.equal(withoutUserinfo('grpc://u:secret@h:1'), 'grpc://h:1');
  assert.equal(withoutUserinfo('http://h:1'), 'http://h:1');
});

test('TLS alerts are found in OpenSSL messages', () => {
  assert.equal(
    tlsAlertIn('error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/x.c:918'),
    'tlsv13 alert certificate required',
  );
  assert.equal(tlsAlertIn('SSL routines::sslv3 alert bad certificate'), 'sslv3 alert bad certificate');
  assert.equal(tlsAlertIn('other side closed'), undefined);
});
