import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashBytes } from './digest.ts';
import { ErrorCode, isHoardError } from './errors.ts';
import { receive } from './receive.ts';

const body = Buffer.from('hashed where it was produced');
const hash = hashBytes(body);

test('a body hashed by its producer (bodyHash) is checked by that hash, read after its last chunk', async () => {
  let chunks = 0;
  let askedAfter = -1;
  async function* source() {
    chunks++;
    yield body.subarray(0, 10);
    chunks++;
    yield body.subarray(10);
  }
  const bodyHash = () => {
    askedAfter = chunks;
    return hash;
  };
  assert.deepEqual(await receive(source(), { hash, size: body.length, bodyHash }, () => undefined), {
    size: body.length,
  });
  assert.equal(askedAfter, 2, 'the hash is read once the body has ended');

  // The producer's hash is the verdict: one that does not match the key fails, as do none.
  for (const claimed of [hashBytes(Buffer.from('other bytes')), undefined]) {
    await assert.rejects(
      receive(body, { hash, size: body.length, bodyHash: () => claimed }, () => undefined),
      (err) => isHoardError(err, ErrorCode.DigestMismatch),
    );
  }
  // Without it the bytes are hashed here.
  await assert.rejects(
    receive(Buffer.from('not the bytes'), { hash, size: 13 }, () => undefined),
    (err) => isHoardError(err, ErrorCode.DigestMismatch),
  );
});
