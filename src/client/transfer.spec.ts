import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../core/digest.ts';
import { ClientError } from './client-error.ts';
import { collect, openDownload } from './transfer.ts';

const server = 'http://127.0.0.1:1';
const blob = Buffer.from('a blob whose download breaks');
const digest = digestOf(blob);

async function* bytesOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** A stream that yields `bytes` and then breaks as a dropped connection. */
async function* breaking(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.byteLength) yield bytes;
  throw new ClientError('connection reset', { server, kind: 'dropped' });
}

test('openDownload: a broken download resumes at the bytes received and verifies', async () => {
  const opens: number[] = [];
  const stream = await openDownload({
    digest,
    offset: 0,
    retry: { operation: 'cas.get', server, retry: { baseDelayMs: 1 } },
    open: async (at) => {
      opens.push(at);
      return at === 0 ? breaking(blob.subarray(0, 10)) : bytesOf(blob.subarray(at));
    },
  });
  assert.ok(stream && Buffer.from(await collect(stream)).equals(blob));
  assert.deepEqual(opens, [0, 10]);
});

test('openDownload: resuming and reopening share one retry budget (retries + 1 opens in all, not retries × retries)', async () => {
  let opens = 0;
  const stream = await openDownload({
    digest,
    offset: 0,
    retry: { operation: 'cas.get', server, retry: { retries: 2, baseDelayMs: 1 } },
    open: async () => {
      if (opens++ === 0) return breaking(new Uint8Array());
      throw new ClientError('HTTP 503', { server, kind: 'status', httpStatus: 503 });
    },
  });
  await assert.rejects(collect(stream as AsyncIterable<Uint8Array>), /503/);
  assert.equal(opens, 3);
});

test('openDownload: an operation the registry does not call safe is never resumed', async () => {
  let opens = 0;
  const stream = await openDownload({
    digest,
    offset: 0,
    retry: { operation: 'custom.read', server, retry: { baseDelayMs: 1 } },
    open: async () => (opens++ === 0 ? breaking(blob.subarray(0, 10)) : bytesOf(blob.subarray(10))),
  });
  await assert.rejects(collect(stream as AsyncIterable<Uint8Array>), /connection reset/);
  assert.equal(opens, 1);
});
