import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialByKey } from './serial-by-key.ts';

/** A task that records when it starts and ends, and ends only when the test says so. */
function gatedTask(log: string[], name: string) {
  let finish!: (fail: boolean) => void;
  const finished = new Promise<boolean>((resolve) => (finish = resolve));
  const run = async () => {
    log.push(`start ${name}`);
    const fail = await finished;
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  return { run, finish };
}

test('tasks of one key run one at a time in order, a failure does not stop the next; other keys run freely', async () => {
  const serial = new SerialByKey();
  const log: string[] = [];
  const a1 = gatedTask(log, 'a1');
  const a2 = gatedTask(log, 'a2');
  const b1 = gatedTask(log, 'b1');
  const first = serial.run('a', a1.run);
  const second = serial.run('a', a2.run);
  const other = serial.run('b', b1.run);
  assert.deepEqual(log, ['start a1', 'start b1'], 'a2 waits for a1; b1 does not');
  b1.finish(false);
  assert.equal(await other, 'b1');
  a1.finish(true);
  await assert.rejects(first, /a1/);
  a2.finish(false);
  assert.equal(await second, 'a2');
  assert.deepEqual(log, ['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
  // The map entry goes once the tail settles, a turn of the event loop later.
  await new Promise(setImmediate);
  assert.equal(serial.size, 0, 'settled keys are forgotten');
});
