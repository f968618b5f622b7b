// hoard's public API. Curated: what is exported here is supported; everything else is
// internal and may change.

// Client library: one CacheClient over Bazel HTTP and REAPI gRPC.
export { createClient } from './client/create-client.ts';
export { HttpCacheClient } from './client/http-client.ts';
export { GrpcCacheClient } from './client/grpc-client.ts';
export { ClientError, type FailureKind } from './client/client-error.ts';
export { OPERATIONS, safetyOf, isTransient, type Safety } from './client/retry-policy.ts';
export { fileSource } from './client/transfer.ts';
export type {
  BodySource,
  CacheClient,
  CallOptions,
  ClientEvent,
  ClientOptions,
  GetOptions,
  Progress,
  RetryOptions,
  ServerCapabilities,
} from './client/types.ts';

// Shared vocabulary.
export { type Digest, digestOf, formatDigest } from './core/digest.ts';
export { HoardError, ErrorCode, isHoardError } from './core/errors.ts';

// Fault injection, for testing any cache.
export { startFaultProxy, type FaultPlan, type FaultProxy } from './check/fault-proxy.ts';

// Load generation and the conformance/fault report, for bench/ and for embedding.
export {
  runBench,
  SCENARIOS,
  type BenchOptions,
  type BenchReport,
  type ScenarioResult,
} from './client/load-generator.ts';
export { runChecks, ALL_CHECKS, type CheckReport, type CheckResult } from './check/run-checks.ts';

// Storage, for embedding hoard's store in another program.
export type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from './storage/store.ts';
export { MemoryStore } from './storage/memory-store.ts';
export { openDiskStore, type DiskStore, type DiskStoreOptions, type Durability } from './storage/disk/disk-store.ts';
export { fsckDiskStore, type FsckReport } from './storage/disk/fsck.ts';
export { getCompleteActionResult } from './cache/completeness.ts';
export { acKey, casKey, rawKey, type Key, type Keyspace } from './core/keys.ts';
