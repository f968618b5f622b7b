// ActionCache: rule 6 (a hit only when every referenced blob is present), inlining within
// a budget, UpdateActionResult validation and canonical storage, instance namespacing.
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { acKey, casKey } from '../../src/core/keys.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { blob, codeOf, sha256, startHarness, unary, type Harness } from './reapi-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ inlineBudget: 64 * 1024 });
});
after(() => h.close());

const dg = (b: Uint8Array): { hash: string; sizeBytes: number } => ({ hash: sha256(b), sizeBytes: b.byteLength });
async function cas(b: Uint8Array, ns = ''): Promise<{ hash: string; sizeBytes: number }> {
  await h.store.put(casKey(sha256(b), ns), b, { size: b.byteLength });
  return dg(b);
}
type AR = {
  outputFiles: { path: string; contents: Uint8Array; digest: { hash: string } }[];
  stdoutRaw: Uint8Array;
  stdoutDigest: { hash: string } | null;
  exitCode: number;
  executionMetadata: { worker: string } | null;
};

test('an AC hit needs every referenced blob: output files, stdout, trees and their files (rule 6)', async () => {
  const out = blob(100, 1);
  const stdout = Buffer.from('hello\n');
  const inTree = blob(300, 2);
  const Tree = protoType(`${REAPI}.Tree`);
  const tree = Buffer.from(Tree.encode({ root: { files: [{ name: 'f', digest: dg(inTree) }] } }).finish());
  await cas(out);
  await cas(stdout);
  await cas(inTree);
  await cas(tree);
  const action = dg(blob(50, 3));
  const result = {
    outputFiles: [{ path: 'bin/out', digest: dg(out) }],
    outputDirectories: [{ path: 'gen', treeDigest: dg(tree) }],
    stdoutDigest: dg(stdout),
    exitCode: 0,
  };
  await unary(h.ac, 'UpdateActionResult', { actionDigest: action, actionResult: result });
  const hit = await unary<AR>(h.ac, 'GetActionResult', { actionDigest: action });
  assert.equal(hit.outputFiles[0]!.path, 'bin/out');

  await h.store.delete(casKey(sha256(inTree)));
  assert.equal(
    await codeOf(unary(h.ac, 'GetActionResult', { actionDigest: action })),
    status.NOT_FOUND,
    'a file listed in an output tree is gone',
  );
  await cas(inTree);
  await h.store.delete(casKey(sha256(stdout)));
  assert.equal(
    await codeOf(unary(h.ac, 'GetActionResult', { actionDigest: action })),
    status.NOT_FOUND,
    'stdout is gone',
  );
  await cas(stdout);
  assert.equal((await unary<AR>(h.ac, 'GetActionResult', { actionDigest: action })).outputFiles.length, 1);
  assert.equal(await codeOf(unary(h.ac, 'GetActionResult', { actionDigest: dg(blob(50, 4)) })), status.NOT_FOUND);
});

test('inline_stdout and inline_output_files are honoured within the byte budget, and only when asked', async () => {
  const small = blob(1000, 5);
  const large = blob(100 * 1024, 6);
  const stdout = Buffer.from('built ok\n');
  const action = dg(blob(50, 7));
  await unary(h.ac, 'UpdateActionResult', {
    actionDigest: action,
    actionResult: {
      outputFiles: [
        { path: 'a', digest: await cas(small) },
        { path: 'b', digest: await cas(large) },
      ],
      stdoutDigest: await cas(stdout),
    },
  });
  const plain = await unary<AR>(h.ac, 'GetActionResult', { actionDigest: action });
  assert.equal(plain.stdoutRaw.length, 0);
  assert.ok(plain.outputFiles.every((f) => f.contents.length === 0));
  const inl = await unary<AR>(h.ac, 'GetActionResult', {
    actionDigest: action,
    inlineStdout: true,
    inlineOutputFiles: ['a', 'b'],
  });
  assert.equal(Buffer.from(inl.stdoutRaw).toString(), 'built ok\n');
  assert.ok(Buffer.from(inl.outputFiles[0]!.contents).equals(small));
  assert.equal(inl.outputFiles[1]!.contents.length, 0, '100 KiB does not fit the 64 KiB budget');
});

test('UpdateActionResult moves inline bytes into the CAS and stores a canonical, non-empty result', async () => {
  const action = dg(blob(50, 8));
  const stored = await unary<AR>(h.ac, 'UpdateActionResult', {
    actionDigest: action,
    actionResult: { stdoutRaw: Buffer.from('out!'), outputFiles: [{ path: 'x', contents: Buffer.from('content') }] },
  });
  assert.equal(stored.stdoutRaw.length, 0);
  assert.equal(stored.stdoutDigest!.hash, sha256(Buffer.from('out!')));
  assert.equal(stored.outputFiles[0]!.digest.hash, sha256(Buffer.from('content')));
  assert.deepEqual(await h.store.has([casKey(sha256(Buffer.from('out!'))), casKey(sha256(Buffer.from('content')))]), [
    true,
    true,
  ]);

  const empty = dg(blob(50, 9));
  const e = await unary<AR>(h.ac, 'UpdateActionResult', { actionDigest: empty, actionResult: {} });
  assert.equal(e.executionMetadata!.worker, 'hoard');
  assert.ok((await h.store.getBytes(acKey(empty.hash)))!.byteLength > 0);
  assert.equal((await unary<AR>(h.ac, 'GetActionResult', { actionDigest: empty })).exitCode, 0);
});

test('UpdateActionResult refuses malformed results with INVALID_ARGUMENT and stores nothing', async () => {
  const action = dg(blob(50, 10));
  const bad: object[] = [
    { actionDigest: action },
    { actionDigest: { hash: 'abc', sizeBytes: 1 }, actionResult: {} },
    { actionDigest: action, actionResult: { outputFiles: [{ path: 'a', digest: { hash: 'zz', sizeBytes: 1 } }] } },
    { actionDigest: action, actionResult: { outputFiles: [{ path: '/etc/passwd', digest: dg(blob(1, 1)) }] } },
    { actionDigest: action, actionResult: { outputFiles: [{ path: 'a/../../b', digest: dg(blob(1, 1)) }] } },
    { actionDigest: action, actionResult: { outputDirectories: [{ path: 'd' }] } },
    { actionDigest: action, actionResult: { stdoutRaw: Buffer.from('x'), stdoutDigest: dg(blob(1, 2)) } },
    { actionDigest: action, actionResult: {}, digestFunction: 2 },
  ];
  for (const req of bad)
    assert.equal(await codeOf(unary(h.ac, 'UpdateActionResult', req)), status.INVALID_ARGUMENT, JSON.stringify(req));
  assert.equal(await h.store.getBytes(acKey(action.hash)), undefined);
  assert.equal(
    await codeOf(unary(h.ac, 'GetActionResult', { actionDigest: action, digestFunction: 8 })),
    status.INVALID_ARGUMENT,
  );
});

test('instance names namespace the action cache unless sharing is configured', async () => {
  const out = blob(10, 11);
  const action = dg(blob(50, 12));
  await cas(out, 'tenant-a');
  await unary(h.ac, 'UpdateActionResult', {
    instanceName: 'tenant-a',
    actionDigest: action,
    actionResult: { outputFiles: [{ path: 'o', digest: dg(out) }] },
  });
  assert.equal(await codeOf(unary(h.ac, 'GetActionResult', { instanceName: 'tenant-a', actionDigest: action })), 0);
  assert.equal(
    await codeOf(unary(h.ac, 'GetActionResult', { instanceName: 'tenant-b', actionDigest: action })),
    status.NOT_FOUND,
  );

  const shared = await startHarness({ instanceNamespacing: false });
  try {
    await shared.store.put(casKey(sha256(out)), out, { size: 10 });
    await unary(shared.ac, 'UpdateActionResult', {
      instanceName: 'x',
      actionDigest: action,
      actionResult: { outputFiles: [{ path: 'o', digest: dg(out) }] },
    });
    assert.equal(await codeOf(unary(shared.ac, 'GetActionResult', { instanceName: 'y', actionDigest: action })), 0);
  } finally {
    await shared.close();
  }
});

test('with completeness off, an AC entry that is not an ActionResult (HTTP raw mode) is a miss, not INTERNAL', async () => {
  const off = await startHarness({ acCompleteness: false });
  try {
    const action = dg(blob(50, 40));
    await off.store.put(acKey(action.hash), Buffer.from([0x0a, 0x50, 0x01]), {}); // field 1, length 80, one byte
    assert.equal(await codeOf(unary(off.ac, 'GetActionResult', { actionDigest: action })), status.NOT_FOUND);
  } finally {
    await off.close();
  }
});
