// The messages between a request thread's RemoteStore and the store thread's host
// (store-host.ts), over one MessagePort per request thread. Every request carries an id
// that its reply repeats; an entry that outlives its reply (a file span, a stream) is a
// lease under the same id until the request thread releases it.
//
// Bytes cross as transferred ArrayBuffers of exactly their length (a view into a larger
// buffer would clone or detach all of it); keys cross without their decoded digest bytes,
// which may be views into a whole request message.
import { ErrorCode, HoardError } from '../core/errors.ts';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Key, Keyspace } from '../core/keys.ts';
import type { FileSpan, StoreUsage } from '../storage/store.ts';

export interface WireKey {
  readonly keyspace: Keyspace;
  readonly namespace: string;
  readonly id: string;
}

export interface WireError {
  readonly message: string;
  /** A HoardError's code, or a Node error code (ECONNRESET) that says how the body failed. */
  readonly code?: string;
  readonly hoard: boolean;
}

/** A request thread's request of the store thread. */
export type StoreRequest =
  | { readonly t: 'has'; readonly id: number; readonly keys: readonly WireKey[]; readonly sizes?: readonly number[] }
  /**
   * `has` of CAS keys of one namespace with decoded digests (FindMissingBlobs): the digests
   * packed 32 bytes each, the sizes as doubles; answered with one byte per key (1: present).
   */
  | {
      readonly t: 'hasDigests';
      readonly id: number;
      readonly namespace: string;
      readonly digests: Uint8Array;
      readonly sizes?: Float64Array;
    }
  | { readonly t: 'stat'; readonly id: number; readonly key: WireKey }
  | { readonly t: 'get'; readonly id: number; readonly key: WireKey; readonly offset?: number; readonly limit?: number }
  | { readonly t: 'getBytes'; readonly id: number; readonly key: WireKey }
  | {
      readonly t: 'put';
      readonly id: number;
      readonly key: WireKey;
      readonly size?: number;
      readonly maxBytes?: number;
      /** The whole body; absent when it follows as `data` messages and an `end` or `fail`. */
      readonly body?: Uint8Array;
      /** The whole body's sha256, for a CAS key (the store thread then does not hash it). */
      readonly sha256?: string;
    }
  | { readonly t: 'data'; readonly id: number; readonly chunk: Uint8Array }
  /** The streamed body's end, with its sha256 for a CAS key. */
  | { readonly t: 'end'; readonly id: number; readonly sha256?: string }
  | { readonly t: 'fail'; readonly id: number; readonly error: WireError }
  | { readonly t: 'delete'; readonly id: number; readonly key: WireKey }
  /** The caller's signal fired: the operation `id` is aborted on the store thread too. */
  | { readonly t: 'abort'; readonly id: number }
  /** The next chunk of a streamed entry. */
  | { readonly t: 'pull'; readonly id: number }
  /** The entry leased under `id` is done with (read, cut or abandoned). */
  | { readonly t: 'release'; readonly id: number };

/** What `get` answers: a miss, the bytes, a file span to read in place, or a stream to pull. */
export type WireEntry =
  | null
  | { readonly size: number; readonly bytes: Uint8Array }
  | { readonly size: number; readonly span: FileSpan }
  | { readonly size: number; readonly streamed: true };

/** The store thread's messages to a request thread. */
export type StoreReply =
  | { readonly t: 'ok'; readonly id: number; readonly value: unknown }
  | { readonly t: 'err'; readonly id: number; readonly error: WireError }
  /** The store took `bytes` more of put `id`'s body: the sender may send that much more. */
  | { readonly t: 'credit'; readonly id: number; readonly bytes: number }
  /** A streamed entry's next chunk; null at its end. */
  | { readonly t: 'chunk'; readonly id: number; readonly chunk: Uint8Array | null }
  | { readonly t: 'chunkErr'; readonly id: number; readonly error: WireError }
  /** The store's figures, sent every second so `usage()` answers without a round trip. */
  | { readonly t: 'usage'; readonly usage: StoreUsage };

export function toWireKey(key: Key): WireKey {
  return { keyspace: key.keyspace, namespace: key.namespace, id: key.id };
}

const DIGEST_BYTES = 32;

/**
 * `keys` as one `hasDigests` request, when they allow it: all CAS keys of one namespace
 * whose digests are decoded (the FindMissingBlobs fast path). Undefined otherwise.
 */
export function packDigestKeys(
  keys: readonly Key[],
  sizes: readonly number[] | undefined,
): { namespace: string; digests: Uint8Array<ArrayBuffer>; sizes?: Float64Array<ArrayBuffer> } | undefined {
  if (keys.length === 0) return undefined;
  const namespace = keys[0]!.namespace;
  const digests = new Uint8Array(keys.length * DIGEST_BYTES);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k.keyspace !== 'cas' || k.namespace !== namespace || k.digest?.length !== DIGEST_BYTES) return undefined;
    digests.set(k.digest, i * DIGEST_BYTES);
  }
  if (sizes === undefined) return { namespace, digests };
  const packedSizes = new Float64Array(sizes.length);
  for (let i = 0; i < sizes.length; i++) packedSizes[i] = sizes[i]!;
  return { namespace, digests, sizes: packedSizes };
}

/** The keys of a `hasDigests` request; an id is spelled out only if a store asks for it. */
export function unpackDigestKeys(namespace: string, digests: Uint8Array): Key[] {
  const keys = new Array<Key>(digests.byteLength / DIGEST_BYTES);
  for (let i = 0; i < keys.length; i++) {
    const at = digests.byteOffset + i * DIGEST_BYTES;
    keys[i] = new DigestKey(namespace, Buffer.from(digests.buffer, at, DIGEST_BYTES));
  }
  return keys;
}

class DigestKey implements Key {
  readonly keyspace = 'cas' as const;
  readonly namespace: string;
  readonly digest: Buffer;
  #id: string | undefined;

  constructor(namespace: string, digest: Buffer) {
    this.namespace = namespace;
    this.digest = digest;
  }

  get id(): string {
    return (this.#id ??= this.digest.toString('hex'));
  }
}

export function toWireError(err: unknown): WireError {
  if (err instanceof HoardError) return { message: err.message, code: err.code, hoard: true };
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return { message, code: typeof code === 'string' ? code : undefined, hoard: false };
}

/** The error again, as the thread that threw it saw it: a HoardError keeps its code. */
export function fromWireError(wire: WireError): Error {
  if (wire.hoard) return new HoardError((wire.code ?? ErrorCode.Internal) as ErrorCode, wire.message);
  return Object.assign(new Error(wire.message), wire.code === undefined ? {} : { code: wire.code });
}

/** A copy of `bytes` in an ArrayBuffer of its own, to transfer. */
export function ownCopy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = uninitialized(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/** `chunks` (`total` bytes of them) copied into one buffer of its own, to transfer. */
export function joined(chunks: readonly Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1) return ownCopy(chunks[0]!);
  const whole = uninitialized(total);
  let at = 0;
  for (const c of chunks) {
    whole.set(c, at);
    at += c.byteLength;
  }
  return whole;
}

/**
 * A buffer of its own (transferable) that is about to be overwritten whole: not zero-filled
 * first, which costs as much as the copy that follows.
 */
export function uninitialized(bytes: number): Uint8Array<ArrayBuffer> {
  return Buffer.allocUnsafeSlow(bytes) as Uint8Array<ArrayBuffer>;
}

/**
 * Bytes to put into a message when it is sent: copied with the other packed bytes of the
 * same send into one buffer (one allocation, one transfer), then `place` puts the view of
 * them where the message wants it and `release` hands the source back.
 */
export interface Packed {
  readonly data: Uint8Array;
  place(view: Uint8Array): void;
  release?(): void;
}

/**
 * Messages for one port, sent together once per turn of the event loop (setImmediate runs
 * after every I/O callback of the turn): under load one message carries many requests or
 * replies, and the per-message cost of the channel (a wake-up of the other thread, an event
 * there) is paid once for all of them. The receiver gets an array.
 */
export class Outbox<M> {
  readonly #port: MessagePort;
  #queue: M[] = [];
  #transfer: TransferListItem[] = [];
  #packed: Packed[] = [];
  #scheduled = false;
  readonly #lead: (() => M) | undefined;
  #leadDue = false;

  /** `lead`: a message made when a send is due to carry it (`leadNext`), placed first in it. */
  constructor(port: MessagePort, lead?: () => M) {
    this.#port = port;
    this.#lead = lead;
  }

  /** The next send starts with a fresh `lead` message (made then, once, however often asked). */
  leadNext(): void {
    this.#leadDue = true;
  }

  post(message: M, transfer?: readonly TransferListItem[], packed?: Packed): void {
    this.#queue.push(message);
    if (transfer !== undefined) for (const t of transfer) this.#transfer.push(t);
    if (packed !== undefined) this.#packed.push(packed);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    const transfer = this.#transfer;
    const packed = this.#packed;
    this.#queue = [];
    this.#transfer = [];
    this.#packed = [];
    if (this.#leadDue && this.#lead !== undefined) {
      this.#leadDue = false;
      queue.unshift(this.#lead());
    }
    if (packed.length > 0) {
      let total = 0;
      for (const p of packed) total += p.data.byteLength;
      const arena = new Uint8Array(total);
      let at = 0;
      for (const p of packed) {
        arena.set(p.data, at);
        p.place(arena.subarray(at, at + p.data.byteLength));
        at += p.data.byteLength;
        p.release?.();
      }
      transfer.push(arena.buffer);
    }
    try {
      this.#port.postMessage(queue, transfer);
    } catch {
      // The port closed meanwhile: its 'close' handler fails what waited on these.
    }
  };
}
