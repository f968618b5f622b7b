import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNamespacePattern, matchesNamespace, ruleFor } from './namespace-pattern.ts';

test('exact names, prefixes and * match as documented', () => {
  assert.equal(matchesNamespace('main', 'main'), true);
  assert.equal(matchesNamespace('main', 'main2'), false);
  assert.equal(matchesNamespace('pr-*', 'pr-42'), true);
  assert.equal(matchesNamespace('pr-*', 'pr-'), true);
  assert.equal(matchesNamespace('pr-*', 'main'), false);
  assert.equal(matchesNamespace('*', ''), true);
  assert.equal(matchesNamespace('', ''), true);
  assert.equal(matchesNamespace('', 'main'), false);
});

test('the first matching rule wins', () => {
  const rules = [
    { pattern: 'pr-1', v: 1 },
    { pattern: 'pr-*', v: 2 },
    { pattern: '*', v: 3 },
  ];
  assert.equal(ruleFor(rules, 'pr-1')?.v, 1);
  assert.equal(ruleFor(rules, 'pr-2')?.v, 2);
  assert.equal(ruleFor(rules, 'x')?.v, 3);
  assert.equal(ruleFor(rules.slice(0, 2), 'x'), undefined);
});

test('a * anywhere but the end is refused', () => {
  assert.throws(() => checkNamespacePattern('p*r'), /may only end it/);
  assert.equal(checkNamespacePattern('pr-*'), 'pr-*');
});
