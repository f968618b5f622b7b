// Rule 2: only the last record can be torn. Whatever happens to the tail of the journal
// (cut at any byte, bytes flipped), opening keeps every intact record before the damage.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { rawKey } from '../../core/keys.ts';
import {
  encodeDelete,
  encodeMove,
  encodePut,
  JOURNAL_MAGIC,
  Op,
  replayJournal,
  scanJournal,
  seal,
  setLocation,
} from './journal.ts';

function replayCount(buf: Buffer): [number, number] {
  let n = 0;
  const len = replayJournal(buf, () => n++);
  return [n, len];
}

const slot = (n: number): Buffer => createHash('sha256').update(`s${n}`).digest();

function buildJournal(n: number): { image: Buffer; ends: number[] } {
  const parts: Buffer[] = [JOURNAL_MAGIC];
  const ends: number[] = [];
  let len = JOURNAL_MAGIC.length;
  for (let i = 0; i < n; i++) {
    const rec =
      i % 5 === 3
        ? encodeDelete(slot(i - 1))
        : i % 7 === 6
          ? encodeMove(slot(i))
          : encodePut(slot(i), rawKey(`key-${i}`, i % 2 ? 'ns' : ''), i * 3, i);
    if (i % 5 !== 3) setLocation(rec, i, i * 100);
    const f = seal(rec);
    parts.push(f);
    len += f.length;
    ends.push(len);
  }
  return { image: Buffer.concat(parts), ends };
}

describe('journal', () => {
  it('round-trips put, move and delete records', () => {
    const { image } = buildJournal(20);
    const { records, validLength } = scanJournal(image);
    assert.equal(validLength, image.length);
    assert.equal(records.length, 20);
    const put = records[0]!;
    assert.equal(put.op, Op.Put);
    if (put.op === Op.Put) assert.deepEqual(put.key(), rawKey('key-0', ''));
    const move = records[6]!;
    assert.equal(move.op, Op.Move);
    if (move.op === Op.Move) assert.equal(move.offset, 600);
  });

  it('keeps every intact record when the tail is cut at any byte (property)', () => {
    const { image, ends } = buildJournal(40);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: image.length }), (cut) => {
        const { records, validLength } = scanJournal(image.subarray(0, cut));
        const whole = ends.filter((e) => e <= cut).length;
        assert.equal(records.length, whole);
        assert.deepEqual(replayCount(image.subarray(0, cut)), [whole, validLength], 'the open path agrees');
        assert.equal(
          validLength,
          cut < JOURNAL_MAGIC.length ? 0 : whole === 0 ? JOURNAL_MAGIC.length : ends[whole - 1],
        );
      }),
      { numRuns: 500 },
    );
  });

  it('drops only the damaged tail when bytes of a record are corrupted (property)', () => {
    const { image, ends } = buildJournal(40);
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 39 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (victim, flips) => {
          const start = ends[victim - 1]!;
          const end = ends[victim]!;
          const damaged = Buffer.from(image);
          for (const [at, xor] of flips) damaged[start + (at % (end - start))]! ^= xor;
          // Two flips of one byte by the same mask cancel out: that is no damage at all.
          fc.pre(!damaged.equals(image));
          const { records, validLength } = scanJournal(damaged);
          // Everything before the victim survives intact; the victim and what follows go.
          assert.equal(records.length, victim);
          assert.equal(validLength, start);
          assert.deepEqual(replayCount(damaged), [victim, start], 'the open path agrees');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a file that is not a hoard journal', () => {
    assert.throws(() => scanJournal(Buffer.from('definitely not a journal')), /hoard header/);
  });

  it('refuses an older format by name, on both read paths, instead of reading it as empty', () => {
    const old = Buffer.concat([Buffer.from('HOARDJ01'), Buffer.alloc(64)]);
    assert.throws(() => scanJournal(old), /format 01 .* reads format 02/);
    assert.throws(() => replayJournal(old, () => undefined), /format 01 .* reads format 02/);
  });
});
