import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Call } from '../core/call.ts';
import { AccessRefused } from '../core/errors.ts';
import { credentialsOf } from './credentials.ts';

const callWith = (authorization?: string) =>
  ({ header: (n: string) => (n === 'authorization' ? authorization : undefined) }) as Call;
const reason = (authorization: string) => {
  try {
    credentialsOf(callWith(authorization), ['Basic realm="hoard"']);
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof AccessRefused);
    assert.deepEqual(err.challenges, ['Basic realm="hoard"']);
    return err.reason;
  }
};

test('Basic in either base64 alphabet, Bearer, or none', () => {
  const pw = '?>?~'; // 'u:?>?~' encodes as dTo/Pj9+ in standard base64 and dTo_Pj9- in the URL-safe one
  for (const enc of ['base64', 'base64url'] as const) {
    const value = `Basic ${Buffer.from(`u:${pw}`).toString(enc)}`;
    assert.deepEqual(credentialsOf(callWith(value), []), { kind: 'basic', user: 'u', password: pw });
  }
  assert.deepEqual(credentialsOf(callWith('bearer abc.def'), []), { kind: 'bearer', token: 'abc.def' });
  assert.deepEqual(credentialsOf(callWith(undefined), []), { kind: 'none' });
});

test('malformed and oversized values are refused with their reason and the challenges', () => {
  assert.equal(reason('Basic !!!'), 'credentials_malformed');
  assert.equal(reason(`Basic ${Buffer.from('no colon').toString('base64')}`), 'credentials_malformed');
  assert.equal(reason('Bearer'), 'credentials_malformed');
  assert.equal(reason('Bearer a b'), 'credentials_malformed');
  assert.equal(reason('Digest x'), 'credentials_malformed');
  assert.equal(reason(`Bearer ${'x'.repeat(9000)}`), 'credentials_oversized');
});
