import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureThrottle } from './failure-throttle.ts';

test('ten free failures, then doubling delays up to 5 s; a quiet minute forgives; addresses are apart', () => {
  const t = new FailureThrottle();
  const delays = Array.from({ length: 18 }, (_, i) => t.fail('10.0.0.1', 1000 + i));
  assert.deepEqual(delays.slice(0, 10), Array(10).fill(0));
  assert.deepEqual(delays.slice(10), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.equal(t.fail('10.0.0.2', 2000), 0, 'another address starts free');
  assert.equal(t.fail('10.0.0.1', 1017 + 60_001), 0, 'a minute without failures forgives');
  assert.equal(t.fail(undefined), 0);
});
