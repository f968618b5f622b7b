import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { GRPC_STATUS, grpcError, toRpcStatus, toServiceError } from './status.ts';

test('every HoardError code has a gRPC status, and client mistakes are never retried by Bazel', () => {
  for (const code of Object.values(ErrorCode)) assert.equal(typeof GRPC_STATUS[code], 'number', code);
  // Bazel retries UNKNOWN, DEADLINE_EXCEEDED, ABORTED, INTERNAL, UNAVAILABLE, RESOURCE_EXHAUSTED.
  for (const code of [
    ErrorCode.InvalidArgument,
    ErrorCode.DigestMismatch,
    ErrorCode.SizeMismatch,
    ErrorCode.Unsupported,
    ErrorCode.TooLarge,
  ]) {
    assert.equal(GRPC_STATUS[code], status.INVALID_ARGUMENT, code);
  }
  assert.equal(GRPC_STATUS[ErrorCode.OutOfRange], status.OUT_OF_RANGE);
  assert.equal(GRPC_STATUS[ErrorCode.InsufficientStorage], status.RESOURCE_EXHAUSTED);
  assert.equal(GRPC_STATUS[ErrorCode.Aborted], status.ABORTED);
});

test('toServiceError keeps messages, passes status errors through, and hides nothing as OK', () => {
  const se = toServiceError(new HoardError(ErrorCode.DigestMismatch, 'content hashes to x'));
  assert.equal(se.code, status.INVALID_ARGUMENT);
  assert.equal(se.details, 'content hashes to x');
  const nf = grpcError(status.NOT_FOUND, 'missing');
  assert.equal(toServiceError(nf), nf);
  assert.equal(toServiceError(new Error('boom')).code, status.INTERNAL);
  assert.deepEqual(toRpcStatus(new HoardError(ErrorCode.InsufficientStorage, 'full')), {
    code: status.RESOURCE_EXHAUSTED,
    message: 'full',
  });
});
