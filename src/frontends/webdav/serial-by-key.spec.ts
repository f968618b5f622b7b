import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialByKey } from './serial-by-key.ts';

test('tasks of one key run one at a time in order, a failure does not stop the next; other keys run freely', async () => {
  const serial = new SerialByKey();
  const log: string[] = [];
  const task =
    (name: string, ms: number, fail = false) =>
    async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
  const a1 = serial.run('a', task('a1', 20, true));
  const a2 = serial.run('a', task('a2', 1));
  const b1 = serial.run('b', task('b1', 1));
  await assert.rejects(a1, /a1/);
  assert.equal(await a2, 'a2');
  assert.equal(await b1, 'b1');
  assert.ok(log.indexOf('end a1') < log.indexOf('start a2'), log.join(', '));
  assert.ok(log.indexOf('end b1') < log.indexOf('end a1'), 'b did not wait for a');
  await sleep(0);
  assert.equal(serial.size, 0, 'settled keys are forgotten');
});
