import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeLowerHex, isLowerHex } from './hex.ts';

const reference = (s: string, n: number): boolean => s.length === n && /^[0-9a-f]*$/.test(s);

test('isLowerHex and decodeLowerHex agree with a regular expression and Buffer hex decoding', () => {
  const tricky = ['İ0', '0\u0130', 'AB', 'ab', 'g0', '0/', ':0', '`a', 'a\u0000', '\u00e9a', '€'];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.stringMatching(/^[0-9a-fA-F]{8}$/),
        fc.string({ minLength: 6, maxLength: 10 }),
        fc.constantFrom(...tricky.map((t) => t.padEnd(8, 'a'))),
      ),
      (s) => {
        assert.equal(isLowerHex(s, 8), reference(s, 8), JSON.stringify(s));
        const out = new Uint8Array(4);
        const ok = decodeLowerHex(s, out);
        assert.equal(ok, reference(s, 8));
        if (ok) assert.deepEqual(Buffer.from(out), Buffer.from(s, 'hex'));
      },
    ),
    { numRuns: 2000 },
  );
  assert.equal(isLowerHex('a'.repeat(300), 300), true, 'longer than the scratch buffer');
});
