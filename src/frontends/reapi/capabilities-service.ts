// Capabilities.GetCapabilities: the reply Bazel checks before anything else (docs/PROTOCOLS.md §2.8.3).
// Cache-only endpoint, so only cache_capabilities is filled. Bazel aborts when the API
// range misses 2.0, when SHA256 is absent, when update_enabled is false (its default
// --remote_upload_local_results), or, with --remote_cache_compression, when ZSTD is absent.
import type { ServiceImplementation } from './grpc-transport.ts';
import { unary } from './handlers.ts';
import { CompressorValue, DigestFunctionValue, type ReapiContext } from './request-context.ts';

const SYMLINK_ALLOWED = 2;

export function capabilitiesService(ctx: ReapiContext): ServiceImplementation {
  const reply = {
    cacheCapabilities: {
      digestFunctions: [DigestFunctionValue.SHA256],
      actionCacheUpdateCapabilities: { updateEnabled: true },
      cachePriorityCapabilities: { priorities: [{ minPriority: 0, maxPriority: 0 }] },
      maxBatchTotalSizeBytes: ctx.options.maxBatchTotalSize,
      symlinkAbsolutePathStrategy: SYMLINK_ALLOWED,
      supportedCompressors: [CompressorValue.ZSTD],
      supportedBatchUpdateCompressors: [CompressorValue.ZSTD],
      maxCasBlobSizeBytes: ctx.options.maxBlobSize,
      splitBlobSupport: false,
      spliceBlobSupport: false,
    },
    deprecatedApiVersion: { major: 2, minor: 0, patch: 0 },
    lowApiVersion: { major: 2, minor: 0, patch: 0 },
    highApiVersion: { major: 2, minor: 3, patch: 0 },
  };
  return {
    // instance_name is accepted whatever it is: every instance has the same capabilities.
    GetCapabilities: unary(ctx, 'GetCapabilities', () => Promise.resolve(reply)),
  };
}
