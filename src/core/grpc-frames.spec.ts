import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { framePrefix, GrpcFrameReader } from './grpc-frames.ts';
import { cut } from '../../test/helpers/cut.ts';

/** The framed messages in a buffer of their own (not a slice of Node's shared pool, so a
 *  view of it is told from a copy by its `.buffer`). */
function framed(msgs: Uint8Array[]): Buffer {
  const joined = Buffer.concat(msgs.flatMap((m) => [framePrefix(m.length), Buffer.from(m)]));
  const own = Buffer.alloc(joined.length);
  joined.copy(own);
  return own;
}

test('messages come out whole and in order however the chunks cut them', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (msgs, points) => {
        const reader = new GrpcFrameReader();
        const got: Buffer[] = [];
        for (const chunk of cut(framed(msgs), points))
          assert.equal(
            reader.push(chunk, (m) => got.push(Buffer.from(m))),
            undefined,
          );
        assert.deepEqual(
          got,
          msgs.map((m) => Buffer.from(m)),
        );
        assert.ok(reader.atBoundary);
      },
    ),
  );
});

test('headOnly keeps the first bytes and reports the full length', () => {
  const reader = new GrpcFrameReader({ headOnly: 4 });
  const seen: [string, number][] = [];
  for (const chunk of cut(framed([Buffer.from('abcdefgh'), Buffer.from('xy')]), [3, 7, 9]))
    reader.push(chunk, (m, n) => seen.push([m.toString(), n]));
  assert.deepEqual(seen, [
    ['abcd', 8],
    ['xy', 2],
  ]);
});

test('a compressed message, a flag byte other than 0 or 1, or a message above the limit is refused; a cut one is not at a boundary', () => {
  const compressed = framed([Buffer.from('abc')]);
  compressed[0] = 1;
  assert.deepEqual(
    new GrpcFrameReader().push(compressed, () => assert.fail()),
    { kind: 'compressed' },
  );
  compressed[0] = 0x37;
  assert.deepEqual(
    new GrpcFrameReader().push(compressed, () => assert.fail()),
    { kind: 'bad-flag', flag: 0x37 },
  );
  assert.deepEqual(
    new GrpcFrameReader({ maxMessage: 2 }).push(framed([Buffer.from('abc')]), () => assert.fail()),
    { kind: 'too-large', length: 3 },
  );
  const reader = new GrpcFrameReader();
  reader.push(framed([Buffer.from('abc')]).subarray(0, 6), () => assert.fail());
  assert.equal(reader.atBoundary, false);
});

test('pushParts hands on the views a message lies in; joined, they are the message', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (msgs, points) => {
        const reader = new GrpcFrameReader();
        const got: Buffer[] = [];
        const chunks = cut(framed(msgs), points);
        for (const chunk of chunks) {
          reader.pushParts(chunk, (parts, length) => {
            assert.ok(
              parts.every((p) => p.length > 0 && chunks.some((c) => c.buffer === p.buffer)),
              'views, not copies',
            );
            assert.equal(
              parts.reduce((n, p) => n + p.length, 0),
              length,
            );
            got.push(Buffer.concat(parts));
          });
        }
        assert.deepEqual(
          got,
          msgs.map((m) => Buffer.from(m)),
        );
      },
    ),
  );
});
