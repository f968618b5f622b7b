import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHoardError } from '../../core/errors.ts';
import { parsePathSegments } from './request-path.ts';

test('plain paths split into decoded segments; query and one trailing slash are dropped', () => {
  assert.deepEqual(parsePathSegments('/a/b/cas/abc?x=1'), ['a', 'b', 'cas', 'abc']);
  assert.deepEqual(parsePathSegments('/team%20a/ac/h/'), ['team a', 'ac', 'h']);
  assert.deepEqual(parsePathSegments('/'), []);
});

test('traversal and smuggling in any encoding is refused', () => {
  for (const bad of [
    'a/b',
    '/a/../b',
    '/..',
    '/.',
    '/%2e%2E/x',
    '/%2e/x',
    '/a%2fb',
    '/a%2Fb',
    '/a%5cb',
    '/a\\b',
    '/a%00b',
    '/a%0ab',
    '//a',
    '/a//b',
    '/%zz',
    '/%e0%a4%a',
  ]) {
    assert.throws(
      () => parsePathSegments(bad),
      (e) => isHoardError(e, 'invalid_argument'),
      bad,
    );
  }
});

test('property: accepted segments never name . or .. and carry no separator or control character', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string(), fc.constantFrom('..', '.', '%2e%2e', '%2f', '%5c', '%00', '', '%')), {
        maxLength: 6,
      }),
      (parts) => {
        let segments: string[];
        try {
          segments = parsePathSegments(`/${parts.join('/')}`);
        } catch (e) {
          return isHoardError(e, 'invalid_argument');
        }
        // eslint-disable-next-line no-control-regex
        return segments.every((s) => s !== '.' && s !== '..' && s !== '' && !/[/\\\u0000-\u001f\u007f]/.test(s));
      },
    ),
  );
});
