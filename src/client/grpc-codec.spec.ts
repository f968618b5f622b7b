import assert from 'node:assert/strict';
import { test } from 'node:test';
import { protoType, REAPI } from '../core/proto.ts';
import { encodeUpdateActionResult } from './grpc-codec.ts';

test("UpdateActionResult carries the caller's ActionResult bytes unchanged, unknown fields included", () => {
  const ActionResult = protoType(`${REAPI}.ActionResult`);
  const known = Buffer.from(
    ActionResult.encode({ exitCode: 3, stdoutDigest: { hash: 'a'.repeat(64), sizeBytes: 5 } }).finish(),
  );
  const unknown = Buffer.from([0x98, 0x06, 0x07]); // field 99, varint 7: not in hoard's schema
  const encoded = Buffer.concat([known, unknown]);
  const request = encodeUpdateActionResult('inst', { hash: 'b'.repeat(64), sizeBytes: 9 }, encoded);
  assert.ok(request.includes(encoded), 'the ActionResult bytes are embedded as they were');
  const decoded = protoType(`${REAPI}.UpdateActionResultRequest`).toObject(
    protoType(`${REAPI}.UpdateActionResultRequest`).decode(request),
    { longs: Number },
  ) as {
    instanceName: string;
    actionDigest: { hash: string; sizeBytes: number };
    actionResult: { exitCode: number };
  };
  assert.equal(decoded.instanceName, 'inst');
  assert.deepEqual(decoded.actionDigest, { hash: 'b'.repeat(64), sizeBytes: 9 });
  assert.equal(decoded.actionResult.exitCode, 3);
});
