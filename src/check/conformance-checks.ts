// Conformance checks of `hoard check`: what a correct cache answers when nothing goes wrong
// on the network. docs/CHECKS.md says which real bug each one comes from.
import { digestOf } from '../core/digest.ts';
import { protoType, REAPI } from '../core/proto.ts';
import { collect } from '../client/transfer.ts';
import { blobOf, errorText, fail, info, mb, parallel, pass, type Check, type CheckOutcome } from './check-context.ts';

function encodeActionResult(files: { path: string; digest: { hash: string; sizeBytes: number } }[]): Uint8Array {
  const t = protoType(`${REAPI}.ActionResult`);
  return t.encode(t.fromObject({ outputFiles: files, exitCode: 0 })).finish();
}

/**
 * The ActionResult read back against the one stored. `execution_metadata` says who produced
 * a result and when; a cache may fill it in (bazel-remote records the uploader in `worker`)
 * and no client reads it for a hit, so a difference there alone is information, not a failure.
 */
export function compareActionResults(stored: Uint8Array, got: Uint8Array): CheckOutcome {
  const t = protoType(`${REAPI}.ActionResult`);
  // Longs as strings: numbers past 2^53 must not compare equal by rounding.
  const decode = (bytes: Uint8Array): Record<string, unknown> => t.toObject(t.decode(bytes), { longs: String });
  const { executionMetadata: sentMeta, ...sent } = decode(stored);
  const { executionMetadata: gotMeta, ...back } = decode(got);
  if (JSON.stringify(sent) !== JSON.stringify(back)) return fail('hit, but the ActionResult differs');
  const before = (sentMeta ?? {}) as Record<string, unknown>;
  const after = (gotMeta ?? {}) as Record<string, unknown>;
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => (k in after ? `${k} ${JSON.stringify(after[k]).slice(0, 60)}` : `${k} removed`));
  if (changed.length === 0) return pass('hit, same ActionResult');
  return info(`hit, same ActionResult except execution_metadata, which the server changed (${changed.join(', ')})`);
}

export const conformanceChecks: readonly Check[] = [
  {
    id: 'round-trip',
    title: 'byte-exact round trips, hundreds of parallel multi-chunk uploads',
    async run(ctx) {
      const n = Math.max(8, Math.round(200 * ctx.scale));
      const blobs = Array.from({ length: n }, () => blobOf(64 * 1024 + Math.floor(Math.random() * 256 * 1024)));
      // Retries OFF here and in same-digest: a cache failing a subset of parallel uploads
      // (docs/CORRECTNESS.md#origin-unflushed-upload) passes if the client quietly repeats them.
      const client = ctx.client({ concurrency: 128, retry: { retries: 0 } });
      let bytes = 0;
      const putErrors: string[] = [];
      await parallel(blobs, 256, async (b) => {
        await client.put(b.digest, b.bytes).catch((e: unknown) => putErrors.push(errorText(e)));
        bytes += b.bytes.length;
      });
      if (putErrors.length) return fail(`${putErrors.length}/${n} uploads failed: ${putErrors[0]}`);
      const missing = await client.findMissing(blobs.map((b) => b.digest));
      if (missing.length) return fail(`${missing.length}/${n} acknowledged uploads reported missing`);
      const bad: string[] = [];
      await parallel(blobs, 128, async (b) => {
        const got = await client.getBytes(b.digest).catch((e: unknown) => errorText(e));
        if (typeof got === 'string') bad.push(got);
        else if (!got || !Buffer.from(got).equals(b.bytes))
          bad.push(got ? `bytes of ${b.digest.hash.slice(0, 12)} differ` : `${b.digest.hash.slice(0, 12)} missing`);
      });
      if (bad.length) return fail(`${bad.length}/${n} downloads wrong: ${bad[0]}`);
      return pass(`${n} blobs, ${mb(bytes)} up and down, byte-exact`);
    },
  },
  {
    id: 'offset-read',
    title: 'a read from an offset returns exactly the tail',
    async run(ctx) {
      const client = ctx.client();
      const b = blobOf(300_000);
      await client.put(b.digest, b.bytes);
      const stream = await client.get(b.digest, { offset: 123_457 });
      if (!stream) return fail('blob missing right after upload');
      return Buffer.from(await collect(stream)).equals(b.bytes.subarray(123_457))
        ? pass('300000-byte blob read from 123457')
        : fail('tail bytes differ');
    },
  },
  {
    id: 'same-digest',
    title: 'concurrent uploads of the same blob all succeed, reader sees whole bytes',
    async run(ctx) {
      const client = ctx.client({ concurrency: 16, retry: { retries: 0 } });
      const b = blobOf(1_000_000);
      const results = await Promise.allSettled(Array.from({ length: 16 }, () => client.put(b.digest, b.bytes)));
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length)
        return fail(
          `${failed.length}/16 concurrent uploads failed: ${errorText((failed[0] as PromiseRejectedResult).reason)}`,
        );
      const got = await client.getBytes(b.digest);
      return got && Buffer.from(got).equals(b.bytes)
        ? pass('16 concurrent uploads of one 1 MB blob')
        : fail('the blob read back differs');
    },
  },
  {
    id: 'digest-mismatch',
    title: 'an upload whose bytes do not match its digest is rejected and not served',
    async run(ctx) {
      const client = ctx.client({ retry: { retries: 0 } });
      const claimed = blobOf(50_000).digest;
      const wrong = blobOf(50_000).bytes;
      const accepted = await client.put(claimed, wrong).then(
        () => true,
        () => false,
      );
      const served = await client.getBytes(claimed).catch(() => 'corrupt' as const);
      if (served !== undefined) return fail(`the wrong bytes are served under ${claimed.hash.slice(0, 12)}`);
      if (accepted)
        return fail('the upload was acknowledged (not served afterwards, but the client was told it succeeded)');
      return pass('rejected, and a read is a miss');
    },
  },
  {
    id: 'empty-blob',
    title: 'the empty blob can be stored and read (REAPI: it always exists)',
    async run(ctx) {
      const client = ctx.client();
      const empty = digestOf(new Uint8Array());
      if (ctx.protocol === 'grpc') {
        const missing = await client.findMissing([empty]);
        if (missing.length)
          return fail('FindMissingBlobs lists the empty digest (REAPI: servers MUST treat it as present)');
      } else {
        await client.put(empty, new Uint8Array());
      }
      const got = await client.getBytes(empty);
      if (!got) return fail('the empty blob is a miss');
      return got.byteLength === 0
        ? pass(ctx.protocol === 'grpc' ? 'present without upload, reads as 0 bytes' : 'PUT then GET of 0 bytes')
        : fail(`read ${got.byteLength} bytes`);
    },
  },
  {
    id: 'ac-round-trip',
    title: 'an ActionResult whose blobs are present is a hit with the same content',
    async run(ctx) {
      const client = ctx.client();
      const out = blobOf(10_000);
      await client.put(out.digest, out.bytes);
      const action = blobOf(100).digest;
      const encoded = encodeActionResult([{ path: 'out/file', digest: out.digest }]);
      await client.putActionResult(action, encoded);
      const got = await client.getActionResult(action);
      if (!got) return fail('miss right after UpdateActionResult with every blob present');
      return compareActionResults(encoded, got);
    },
  },
  {
    id: 'ac-completeness',
    title: 'an ActionResult referencing a missing blob is never a hit',
    async run(ctx) {
      const client = ctx.client({ retry: { retries: 0 } });
      const missingBlob = blobOf(10_000).digest; // never uploaded
      const action = blobOf(100).digest;
      const rejected = await client
        .putActionResult(action, encodeActionResult([{ path: 'out/lost', digest: missingBlob }]))
        .then(
          () => false,
          () => true,
        );
      const hit = await client.getActionResult(action);
      if (hit)
        return fail('hit for an ActionResult whose output blob is missing (builds then fail with "lost inputs")');
      return pass(rejected ? 'rejected at upload' : 'accepted, answered as a miss');
    },
  },
];
