// The action cache behind every protocol: what a frontend may store under an action key,
// when a stored result is a hit, and how lookups are counted. Frontends decode their
// requests, call this with a namespace (namespaces.ts), a hash and their protocol label,
// and encode the answer; none of them reads or writes an AC entry of the store directly.
//
// Two kinds of AC entry. A validated entry is an ActionResult: refused unless it decodes
// and validates (action-result-validation.ts), and a hit only when it decodes and, with
// completeness on, when every blob it references is present (rule 6, completeness.ts). A
// raw entry is another tool's opaque bytes (raw-ac.ts decides which): stored and served
// as they came. The service holds no state of its own: any number of them may share a store.
import { decodeActionResult } from '../core/action-result.ts';
import { hashBytes, type Digest } from '../core/digest.ts';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { acKey, casKey, type Key } from '../core/keys.ts';
import { protoType, REAPI } from '../core/proto.ts';
import { bytesOf } from '../core/proto-values.ts';
import type { Metrics, Protocol } from '../metrics/metrics.ts';
import type { Body, Entry, Store } from '../storage/store.ts';
import {
  decodeValidActionResult,
  int64,
  validateActionResult,
  type ActionResultMessage,
  type DigestMessage,
} from './action-result-validation.ts';
import { getCompleteActionResult } from './completeness.ts';

export interface CacheServiceOptions {
  readonly store: Store;
  /** Where AC lookups are counted, by protocol, as hits and misses. */
  readonly metrics?: Pick<Metrics, 'lookup'>;
  /** `--ac-completeness` (rule 6): a validated entry is a hit only when all it references is present. */
  readonly acCompleteness: boolean;
  /**
   * Told of every CAS blob this service published (an ActionResult's inline bytes), after
   * the store did: a frontend may have uploads of the same blob in flight to end.
   */
  readonly onCasPublished?: (key: Key) => void;
}

export interface CacheCallOptions {
  /** The asking frontend's protocol label: the lookup counts are per protocol. */
  readonly protocol: Protocol;
  readonly signal?: AbortSignal;
}

export class CacheService {
  readonly #store: Store;
  readonly #metrics: Pick<Metrics, 'lookup'> | undefined;
  readonly #acCompleteness: boolean;
  readonly #onCasPublished: ((key: Key) => void) | undefined;

  constructor(options: CacheServiceOptions) {
    this.#store = options.store;
    this.#metrics = options.metrics;
    this.#acCompleteness = options.acCompleteness;
    this.#onCasPublished = options.onCasPublished;
  }

  /**
   * The stored ActionResult bytes under `hash`, or undefined (a miss, counted as one):
   * absent, not an ActionResult, or (completeness on) referencing a blob that is not
   * present. A value that is not an ActionResult is a miss rather than an error: raw
   * entries may share a namespace with validated ones (`--http-prefix ignore`), and a
   * client told "error" retries where a miss makes it build. The bytes always decode with
   * core/action-result.ts's decoder.
   */
  async getActionResult(namespace: string, hash: string, options: CacheCallOptions): Promise<Buffer | undefined> {
    const { signal } = options;
    const bytes = this.#acCompleteness
      ? await getCompleteActionResult(this.#store, hash, { namespace, signal }) // decoded it already
      : await this.#store.getBytes(acKey(hash, namespace), { signal });
    const hit = bytes !== undefined && (this.#acCompleteness || decodes(bytes));
    this.#count(options.protocol, namespace, hit);
    return hit ? bytes : undefined;
  }

  /**
   * Stores a client's encoded ActionResult exactly as sent, once it decodes and validates
   * (InvalidArgument otherwise, nothing stored): a client reads back its own bytes,
   * unknown fields included. Callers bound the size first (checkEncodedActionResultSize).
   */
  async putEncodedActionResult(
    namespace: string,
    hash: string,
    bytes: Uint8Array,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    decodeValidActionResult(bytes);
    await this.#store.put(acKey(hash, namespace), bytes, { size: bytes.byteLength, signal: options.signal });
  }

  /**
   * Stores a decoded ActionResult in canonical form, after validating it: inline bytes
   * (output file contents, stdout_raw, stderr_raw) are moved into the CAS, checked against
   * any digest given beside them (DigestMismatch), so stored results stay small and every
   * output is a blob; the message is re-encoded (fields in tag order, unknown fields
   * dropped) and never stored empty. Rewrites `ar` in place and returns it as stored.
   */
  async putActionResult(
    namespace: string,
    hash: string,
    ar: ActionResultMessage,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<ActionResultMessage> {
    const { signal } = options;
    validateActionResult(ar);
    const toCas = async (
      inline: Uint8Array | null | undefined,
      claimed: DigestMessage | null | undefined,
      field: string,
    ): Promise<DigestMessage | null | undefined> => {
      const data = bytesOf(inline);
      if (data.byteLength === 0) return claimed;
      const d: Digest = { hash: hashBytes(data), sizeBytes: data.byteLength };
      if (claimed?.hash && (claimed.hash !== d.hash || int64(claimed.sizeBytes) !== d.sizeBytes)) {
        throw new HoardError(
          ErrorCode.DigestMismatch,
          `${field}: inline bytes hash to ${d.hash}/${d.sizeBytes}, not to the digest given`,
        );
      }
      const key = casKey(d.hash, namespace);
      await this.#store.put(key, data, { size: d.sizeBytes, signal });
      this.#onCasPublished?.(key);
      return { hash: d.hash, sizeBytes: d.sizeBytes };
    };
    ar.stdoutDigest = await toCas(ar.stdoutRaw, ar.stdoutDigest, 'stdout_raw');
    ar.stdoutRaw = undefined;
    ar.stderrDigest = await toCas(ar.stderrRaw, ar.stderrDigest, 'stderr_raw');
    ar.stderrRaw = undefined;
    for (const [i, f] of (ar.outputFiles ?? []).entries()) {
      f.digest = await toCas(f.contents, f.digest, `output_files[${i}].contents`);
      f.contents = undefined;
    }
    const ActionResult = protoType(`${REAPI}.ActionResult`);
    let encoded = ActionResult.encode(ar).finish();
    if (encoded.byteLength === 0) {
      // An all-default result would be stored as zero bytes; REAPI asks for one
      // non-default field so a stored result is never empty.
      ar.executionMetadata = { ...(ar.executionMetadata ?? {}), worker: 'hoard' };
      encoded = ActionResult.encode(ar).finish();
    }
    await this.#store.put(acKey(hash, namespace), encoded, { signal });
    return ar;
  }

  /** A raw AC entry, whole, or undefined (a miss); counted. The caller owns the entry's stream. */
  async getRawActionResult(namespace: string, hash: string, options: CacheCallOptions): Promise<Entry | undefined> {
    const entry = await this.#store.get(acKey(hash, namespace), { signal: options.signal });
    this.#count(options.protocol, namespace, entry !== undefined);
    return entry;
  }

  /** A raw AC entry's size, or undefined (a miss); counted as a lookup like a read. */
  async statRawActionResult(namespace: string, hash: string, options: CacheCallOptions): Promise<number | undefined> {
    const size = await this.#store.stat(acKey(hash, namespace));
    this.#count(options.protocol, namespace, size !== undefined);
    return size;
  }

  /** Stores any bytes as a raw AC entry, bounded by `size` and `maxBytes` as any put is. */
  async putRawActionResult(
    namespace: string,
    hash: string,
    body: Body,
    options: { readonly size?: number; readonly maxBytes?: number; readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#store.put(acKey(hash, namespace), body, options);
  }

  #count(protocol: Protocol, namespace: string, hit: boolean): void {
    this.#metrics?.lookup(protocol, { keyspace: 'ac', namespace }, hit ? 'hit' : 'miss');
  }
}

function decodes(bytes: Uint8Array): boolean {
  try {
    decodeActionResult(bytes);
    return true;
  } catch {
    return false;
  }
}
