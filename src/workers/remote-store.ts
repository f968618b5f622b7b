// A request thread's view of the one store, which lives on the store thread (store-host.ts):
// every call is a message there and back, so the store keeps its single writer (rule 2) and
// a put acknowledged to any thread is readable from every thread at once (rule 1).
//
// What stays on the request thread: reading a large entry. The store thread answers with
// the open descriptor and range of its file (same process, same descriptor table) and keeps
// the descriptor open until this thread releases it, so the bytes never cross threads.
import type { Hash } from 'node:crypto';
import { isMarkedAsUntransferable, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { createHasher, hashBytes } from '../core/digest.ts';
import { ErrorCode, HoardError } from '../core/errors.ts';
import type { Key } from '../core/keys.ts';
import { checkPut } from '../storage/check-put.ts';
import { spanEntry } from '../storage/file-span-entry.ts';
import { inMemoryEntry } from '../storage/in-memory-entry.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from '../storage/store.ts';
import {
  fromWireError,
  Outbox,
  joined,
  ownCopy,
  packDigestKeys,
  toWireError,
  toWireKey,
  type StoreReply,
  type StoreRequest,
  type WireEntry,
} from './store-messages.ts';

/**
 * Whether `chunk` spans the whole of a buffer that may be moved to another thread: then
 * transferring it takes nothing from anyone else (a socket read's own buffer does).
 */
function isWholeBuffer(chunk: Uint8Array): chunk is Uint8Array<ArrayBuffer> {
  const buffer = chunk.buffer;
  return (
    buffer instanceof ArrayBuffer &&
    chunk.byteOffset === 0 &&
    chunk.byteLength === buffer.byteLength &&
    !isMarkedAsUntransferable(buffer)
  );
}

/** A body up to this size goes in the put message itself (one message, not three). */
const INLINE_BODY_MAX = 64 * 1024;
/** How far a streamed body may run ahead of the store taking it. */
const BODY_WINDOW = 1024 * 1024;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type RequestBody = Distribute<StoreRequest>;

export class RemoteStore implements Store {
  readonly #outbox: Outbox<StoreRequest>;
  readonly #calls = new Map<number, Pending>();
  readonly #credits = new Map<number, (bytes: number) => void>();
  readonly #streams = new Map<number, RemoteStream>();
  #usage: StoreUsage;
  #next = 1;
  #closed = false;

  constructor(port: MessagePort, usage: StoreUsage) {
    this.#outbox = new Outbox(port);
    this.#usage = usage;
    port.on('message', (batch: StoreReply[]) => {
      for (const m of batch) this.#onReply(m);
    });
    port.on('close', () => this.#fail(new HoardError(ErrorCode.Unavailable, 'the store thread is gone')));
    // The listeners keep a request thread alive, not its store channel.
    port.unref();
  }

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    const packed = packDigestKeys(keys, sizes);
    if (packed === undefined) return (await this.#call({ t: 'has', keys: keys.map(toWireKey), sizes })) as boolean[];
    const transfer =
      packed.sizes === undefined ? [packed.digests.buffer] : [packed.digests.buffer, packed.sizes.buffer];
    const present = (await this.#call({ t: 'hasDigests', ...packed }, undefined, transfer)) as Uint8Array;
    const answer = new Array<boolean>(present.length);
    for (let i = 0; i < present.length; i++) answer[i] = present[i] === 1;
    return answer;
  }

  stat(key: Key): Promise<number | undefined> {
    return this.#call({ t: 'stat', key: toWireKey(key) }).then((v) => (v === null ? undefined : (v as number)));
  }

  async get(key: Key, options: ReadOptions = {}): Promise<Entry | undefined> {
    // The entry, when it outlives the answer, is leased under the request's id.
    const id = this.#next++;
    const wire = (await this.#call(
      { t: 'get', key: toWireKey(key), offset: options.offset, limit: options.limit },
      options.signal,
      undefined,
      id,
    )) as WireEntry;
    if (wire === null) return undefined;
    if ('bytes' in wire) return inMemoryEntry(wire.size, asBuffer(wire.bytes));
    if ('span' in wire) return spanEntry(wire.size, wire.span, () => this.#send({ t: 'release', id }));
    return this.#streamEntry(id, wire.size);
  }

  async getBytes(key: Key, options: { readonly signal?: AbortSignal } = {}): Promise<Buffer | undefined> {
    const bytes = (await this.#call({ t: 'getBytes', key: toWireKey(key) }, options.signal)) as Uint8Array | null;
    return bytes === null ? undefined : asBuffer(bytes);
  }

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    // The store thread's own first check, made here too: a declared size over the store's
    // bound is refused before any body byte is read, as on one thread (a client waiting with
    // Expect: 100-continue, or one that sends nothing yet, gets its answer).
    checkPut(key, options, this.#usage.effectiveMaxBytes);
    const head = { t: 'put', key: toWireKey(key), size: options.size, maxBytes: options.maxBytes } as const;
    // A CAS body is hashed here, on the request thread, as it is sent: the store thread
    // checks the hash against the key instead of hashing the bytes itself.
    const cas = key.keyspace === 'cas';
    // A body declared larger than a message streams from the start, so the store thread
    // sees the put (and can refuse it: a namespace's quota) before any body byte is read.
    if (!(body instanceof Uint8Array) && options.size !== undefined && options.size > INLINE_BODY_MAX)
      return this.#streamPut(head, [], body[Symbol.asyncIterator](), options, cas ? createHasher() : undefined);
    if (body instanceof Uint8Array) {
      const copy = ownCopy(body);
      const sha256 = cas ? hashBytes(copy) : undefined;
      return (await this.#call({ ...head, body: copy, sha256 }, options.signal, [copy.buffer])) as PutOutcome;
    }
    // Small bodies (most cache entries) go whole in the put message; larger ones stream.
    const source = body[Symbol.asyncIterator]();
    const first: Uint8Array[] = [];
    let firstBytes = 0;
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await source.next();
      } catch (err) {
        // The store decides what a failed body means, as it would on this thread.
        return this.#streamPut(head, first, failing(err), options, undefined);
      }
      if (step.done) {
        const whole = joined(first, firstBytes);
        const sha256 = cas ? hashBytes(whole) : undefined;
        return (await this.#call({ ...head, body: whole, sha256 }, options.signal, [whole.buffer])) as PutOutcome;
      }
      first.push(step.value);
      firstBytes += step.value.byteLength;
      if (firstBytes > INLINE_BODY_MAX) break;
    }
    return this.#streamPut(head, first, source, options, cas ? createHasher() : undefined);
  }

  async delete(key: Key): Promise<boolean> {
    return (await this.#call({ t: 'delete', key: toWireKey(key) })) as boolean;
  }

  usage(): StoreUsage {
    return this.#usage;
  }

  /** The store is the store thread's to close; this only ends this thread's use of it. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async #streamPut(
    head: Omit<Extract<StoreRequest, { t: 'put' }>, 'id'>,
    first: Uint8Array[],
    source: AsyncIterator<Uint8Array>,
    options: PutOptions,
    hasher: Hash | undefined,
  ): Promise<PutOutcome> {
    const id = this.#next++;
    const result = this.#call(head, options.signal, undefined, id) as Promise<PutOutcome>;
    // A chunk given away whole crosses as it is (its buffer moves to the store thread);
    // any other is copied into a buffer of its own.
    const handsOver = options.handsOverChunks === true;
    let settled = false;
    const done = result.then(
      () => (settled = true),
      () => (settled = true),
    );
    let window = BODY_WINDOW;
    let wake: (() => void) | undefined;
    this.#credits.set(id, (bytes) => {
      window += bytes;
      wake?.();
    });
    void done.then(() => wake?.());
    const answered = done.then(() => undefined);
    // A read of the source left unfinished when the store answered first.
    let pending = false;
    const send = async (chunk: Uint8Array): Promise<void> => {
      while (window <= 0 && !settled) await new Promise<void>((r) => (wake = r));
      if (settled) return;
      window -= chunk.byteLength;
      hasher?.update(chunk);
      const own = handsOver && isWholeBuffer(chunk) ? chunk : ownCopy(chunk);
      this.#outbox.post({ t: 'data', id, chunk: own }, [own.buffer]);
    };
    try {
      for (const chunk of first) await send(chunk);
      for (;;) {
        if (settled) break;
        let step: IteratorResult<Uint8Array> | undefined;
        try {
          // The store may answer before the body's end (a refusal, an existing blob) while
          // the client waits for that answer before sending more: stop waiting for bytes then.
          step = await Promise.race([source.next(), answered]);
        } catch (err) {
          this.#send({ t: 'fail', id, error: toWireError(err) });
          break;
        }
        if (step === undefined) {
          pending = true;
          break;
        }
        if (step.done) {
          this.#send({ t: 'end', id, sha256: hasher?.digest('hex') });
          break;
        }
        await send(step.value);
      }
    } finally {
      this.#credits.delete(id);
      // The store answered before the body's end (an error, an existing blob): stop the source.
      // With a read still pending, return() waits for it: let it finish in the background.
      if (settled && pending) void source.return?.().catch(() => undefined);
      else if (settled) await source.return?.().catch(() => undefined);
    }
    return result;
  }

  #streamEntry(id: number, size: number): Entry {
    const stream = new RemoteStream(
      () => this.#send({ t: 'pull', id }),
      () => {
        this.#streams.delete(id);
        this.#send({ t: 'release', id });
      },
    );
    this.#streams.set(id, stream);
    return { size, stream };
  }

  /** Sends `body` as request `id` (a new one unless the caller needs to know it) and awaits its answer. */
  #call(
    body: RequestBody,
    signal?: AbortSignal,
    transfer?: TransferListItem[],
    id: number = this.#next++,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(new HoardError(ErrorCode.Unavailable, 'the store is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => this.#send({ t: 'abort', id });
        signal.addEventListener('abort', onAbort, { once: true });
      }
      const cleanup = () => {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
      };
      this.#calls.set(id, {
        resolve: (v) => {
          cleanup();
          resolve(v);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      this.#outbox.post({ ...body, id } as StoreRequest, transfer);
    });
  }

  #send(message: StoreRequest): void {
    this.#outbox.post(message);
  }

  #onReply(m: StoreReply): void {
    switch (m.t) {
      case 'ok':
      case 'err': {
        const call = this.#calls.get(m.id);
        if (!call) return;
        this.#calls.delete(m.id);
        if (m.t === 'ok') call.resolve(m.value);
        else call.reject(fromWireError(m.error));
        return;
      }
      case 'credit':
        this.#credits.get(m.id)?.(m.bytes);
        return;
      case 'chunk':
        this.#streams.get(m.id)?.deliver(m.chunk);
        return;
      case 'chunkErr':
        this.#streams.get(m.id)?.destroy(fromWireError(m.error));
        return;
      case 'usage':
        // After a write the figures come without the per-namespace list: keep the last one.
        this.#usage =
          m.usage.namespaces === undefined && this.#usage.namespaces !== undefined
            ? { ...m.usage, namespaces: this.#usage.namespaces }
            : m.usage;
        return;
    }
  }

  #fail(err: Error): void {
    this.#closed = true;
    for (const call of this.#calls.values()) call.reject(err);
    this.#calls.clear();
    for (const stream of this.#streams.values()) stream.destroy(err);
    for (const credit of this.#credits.values()) credit(Infinity);
  }
}

/** An entry whose bytes the store thread streams: one chunk asked for at a time. */
class RemoteStream extends Readable {
  readonly #pull: () => void;
  readonly #release: () => void;
  #asked = false;

  constructor(pull: () => void, release: () => void) {
    super();
    this.#pull = pull;
    this.#release = release;
  }

  override _read(): void {
    if (this.#asked) return;
    this.#asked = true;
    this.#pull();
  }

  deliver(chunk: Uint8Array | null): void {
    this.#asked = false;
    this.push(chunk === null ? null : asBuffer(chunk));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#release();
    callback(err);
  }
}

/** A Buffer over the same bytes (a view into a send's packed bytes, or a transferred copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function failing(err: unknown): AsyncIterator<Uint8Array> {
  return { next: () => Promise.reject(err) };
}
