// A whole-entry read from a slow tier, streamed to the caller and checked as it goes: the
// byte count against the entry's size, and for CAS keys the hash against the digest. When
// a `fill` is given, the same chunks feed a put into the fast tier at the same time.
//
// Contracts:
// - The caller's stream ends only once the bytes checked out, and its last chunk is held
//   back until then: a client that takes a response as whole at its Content-Length never
//   gets every byte of a wrong entry. "The read ended" means "whole and verified"; the
//   fill may still be writing (or syncing) then, and `outcome` says when it settled.
//   Wrong bytes (too few, too many, a bad hash) end the caller's stream with Corrupt
//   instead: never a short body presented as whole.
// - Nothing partial lands in the fast tier (rule 1): the fill is a put of the declared
//   size, its body ends only after the hash checked out (and fails with the read whenever
//   the read fails: the caller stopped reading, the signal fired, the slow tier failed),
//   and for CAS the put compares the hash computed here instead of hashing the bytes again.
// - The fill is best effort: a fast tier that refuses the entry (full, closed) does not
//   fail the caller's read; the bytes keep flowing to the caller, checked as before.
// - Pace: one stream drives both; the fill may fall FILL_BUFFER_BYTES behind the caller
//   before it slows the read, so a disk write or sync in flight does not stall it.
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHasher } from '../core/digest.ts';
import { ErrorCode, HoardError, toHoardError } from '../core/errors.ts';
import type { Key } from '../core/keys.ts';

/**
 * How far the fill may fall behind the caller's stream: a disk write or sync in flight
 * does not stall the read from the slow tier (the disk writes in 1 MiB batches).
 */
const FILL_BUFFER_BYTES = 4 * 1024 * 1024;

/** How a filling read ended, for the single-flight followers waiting on it. */
export type FillOutcome =
  | { readonly state: 'filled' }
  /** The slow tier has no such entry. */
  | { readonly state: 'absent' }
  /** The bytes were right, but the fast tier refused them (or no fill was asked for). */
  | { readonly state: 'unfilled'; readonly error?: HoardError }
  /** The caller stopped reading or its signal fired: says nothing about the entry. */
  | { readonly state: 'aborted' }
  /** The slow tier failed or gave wrong bytes. */
  | { readonly state: 'failed'; readonly error: HoardError };

export interface FillingReadOptions {
  readonly key: Key;
  /** The whole entry's size, as the slow tier declared it. */
  readonly size: number;
  /** The slow tier's stream of the whole entry; this read owns (consumes or destroys) it. */
  readonly source: Readable;
  /** For error messages: the slow tier's name. */
  readonly tierName: string;
  /**
   * Puts `body` (the entry's bytes, `size` of them) into the fast tier. For CAS, `bodySha256`
   * gives the hash this read computed once the body has ended (a body that does not hash to
   * the key fails instead of ending), so the put need not hash the bytes again.
   */
  readonly fill?: (body: AsyncIterable<Uint8Array>, bodySha256: () => string | undefined) => Promise<unknown>;
  readonly signal?: AbortSignal;
}

export interface FillingRead {
  /** The caller's stream: the entry's bytes, ending only once they checked out. */
  readonly stream: Readable;
  /** Settles once the read and the fill have; never rejects. */
  readonly outcome: Promise<FillOutcome>;
}

export function fillingRead(options: FillingReadOptions): FillingRead {
  const { key, size, source, tierName, fill, signal } = options;
  const hasher = key.keyspace === 'cas' ? createHasher() : undefined;
  let received = 0;
  let corrupt: HoardError | undefined;
  // Which side failed first: the slow tier's stream, or the caller's (ours, when corrupt).
  let slowFailure: unknown;
  let callerSideFailed = false;
  source.once('error', (err) => {
    if (!callerSideFailed) slowFailure ??= err;
  });

  /** The bytes' sha256, once all of them have been read and hashed. */
  let sha256: string | undefined;
  let fillBody: PassThrough | undefined;
  let filled: Promise<HoardError | undefined> = Promise.resolve(undefined);
  let fillSettled = false;
  const fillDone = new AbortController();
  if (fill !== undefined) {
    fillBody = new PassThrough({ highWaterMark: FILL_BUFFER_BYTES });
    // Failing the body is how a failed read reaches the put, which may have stopped
    // listening already (it refused the entry): the error must not go unhandled.
    fillBody.on('error', () => undefined);
    filled = fill(fillBody, () => sha256).then(
      () => undefined,
      (err: unknown) => toHoardError(err),
    );
    void filled.then(() => {
      fillSettled = true;
      fillDone.abort();
    });
  }

  const bad = (what: string) =>
    (corrupt = new HoardError(
      ErrorCode.Corrupt,
      `tier '${tierName}' returned ${what} for ${key.keyspace} entry ${key.id}; nothing was cached`,
    ));

  /** Hands `chunk` to the fill, waiting while it is full; skips a fill that has given up. */
  const feed = async (chunk: Buffer): Promise<void> => {
    if (fillBody === undefined || fillSettled || fillBody.destroyed) return;
    if (fillBody.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        fillBody!.off('drain', done).off('close', done);
        fillDone.signal.removeEventListener('abort', done);
        resolve();
      };
      fillBody!.once('drain', done).once('close', done);
      fillDone.signal.addEventListener('abort', done, { once: true });
    });
  };

  // The last chunk is held back until the entry checked out: a client that reads up to
  // Content-Length takes the response as whole once it has the last byte, so wrong bytes
  // must fail the read before it.
  let held: Buffer | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.byteLength;
      if (received > size) return callback(bad(`more than the ${size} bytes it declared`));
      hasher?.update(chunk);
      feed(chunk).then(() => {
        const previous = held;
        held = chunk;
        callback(null, previous);
      }, callback);
    },
    flush(callback) {
      if (received !== size) return callback(bad(`${received} of the ${size} bytes it declared`));
      if (hasher !== undefined) {
        sha256 = hasher.digest('hex');
        if (sha256 !== key.id) return callback(bad('bytes that do not hash to it'));
      }
      fillBody?.end();
      callback(null, held);
    },
  });
  stream.once('error', () => {
    if (slowFailure === undefined) callerSideFailed = true;
  });
  stream.once('close', () => {
    if (slowFailure === undefined) callerSideFailed = true;
  });

  const outcome = pipeline(source, stream, signal === undefined ? {} : { signal }).then(
    async (): Promise<FillOutcome> => {
      if (fill === undefined) return { state: 'unfilled' };
      const refused = await filled;
      return refused === undefined ? { state: 'filled' } : { state: 'unfilled', error: refused };
    },
    async (): Promise<FillOutcome> => {
      const cause = corrupt ?? (signal?.aborted ? undefined : slowFailure);
      const failure = cause === undefined ? undefined : toHoardError(cause);
      fillBody?.destroy(failure ?? new HoardError(ErrorCode.Aborted, 'the read of the slow tier was abandoned'));
      await filled;
      return failure === undefined ? { state: 'aborted' } : { state: 'failed', error: failure };
    },
  );
  return { stream, outcome };
}
