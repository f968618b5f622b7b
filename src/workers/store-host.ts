// The store thread's side of a request thread's RemoteStore: runs each request against the
// one store and answers on the same port. It holds what a request thread still uses (an
// open file it reads in place, a stream it pulls) until that thread releases it, or until
// its port closes (the thread ended), whichever comes first.
import type { Readable } from 'node:stream';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Key } from '../core/keys.ts';
import type { Store } from '../storage/store.ts';
import {
  fromWireError,
  joined,
  Outbox,
  toWireError,
  unpackDigestKeys,
  type StoreReply,
  type StoreRequest,
  type WireEntry,
  type WireKey,
} from './store-messages.ts';

/** How often request threads get the store's figures (their `usage()` answers from them). */
const USAGE_INTERVAL_MS = 1000;

export interface StoreHost {
  /** Ends every operation and lease of this port's thread. */
  close(): void;
}

export function serveStore(store: Store, port: MessagePort): StoreHost {
  const operations = new Map<number, AbortController>();
  const bodies = new Map<number, BodyFeed>();
  const leases = new Map<number, Lease>();
  let closed = false;

  // A send that answers a write starts with the store's figures after it, so the request
  // thread's usage() is current when its caller resumes (the whole send is read first).
  // The per-namespace list (up to 100 rows, read only by /status and /metrics) comes with
  // the periodic figures only, not with every write.
  const outbox = new Outbox<StoreReply>(port, () => {
    const { namespaces: _, ...usage } = store.usage();
    return { t: 'usage', usage };
  });
  const post = (m: StoreReply, transfer?: TransferListItem[]): void => {
    if (!closed) outbox.post(m, transfer);
  };

  /**
   * Runs one operation and answers it; its signal fires on the caller's `abort`. Bytes it
   * answers with (`Inline`: getBytes, a get's in-memory entry) are packed into the send.
   */
  const run = (id: number, op: (signal: AbortSignal) => Promise<unknown>, writes = false): void => {
    const controller = new AbortController();
    operations.set(id, controller);
    op(controller.signal).then(
      (value) => {
        operations.delete(id);
        if (writes) outbox.leadNext();
        if (!(value instanceof Inline)) return post({ t: 'ok', id, value: value ?? null });
        const reply: { t: 'ok'; id: number; value: unknown } = { t: 'ok', id, value: value.shape() };
        outbox.post(reply, undefined, {
          data: value.bytes,
          place: (view) => value.place(reply, view),
          release: value.release,
        });
      },
      (err: unknown) => {
        operations.delete(id);
        if (writes) outbox.leadNext();
        post({ t: 'err', id, error: toWireError(err) });
      },
    );
  };

  const get = async (id: number, key: Key, offset?: number, limit?: number, signal?: AbortSignal) => {
    const entry = await store.get(key, { offset, limit, signal, inPlace: true });
    if (entry === undefined) return null;
    const file = entry.file;
    if (file?.span !== undefined) {
      leases.set(id, { release: () => void file.close() });
      return { size: entry.size, span: file.span } satisfies WireEntry;
    }
    if (entry.bytes !== undefined) {
      void file?.close();
      return new Inline(entry.bytes, entry.release, entry.size);
    }
    void file?.close();
    leases.set(
      id,
      streamLease(id, entry.stream, post, () => leases.delete(id)),
    );
    return { size: entry.size, streamed: true } satisfies WireEntry;
  };

  const onRequest = (m: StoreRequest): void => {
    switch (m.t) {
      case 'has':
        return run(m.id, () => store.has(m.keys.map(keyOf), m.sizes));
      case 'hasDigests':
        return run(m.id, async () => {
          if (m.namespace === '' && store.hasDigests) return new Inline(await store.hasDigests(m.digests, m.sizes));
          // A Float64Array indexes like the number[] `has` reads.
          const sizes = m.sizes as unknown as readonly number[] | undefined;
          const present = await store.has(unpackDigestKeys(m.namespace, m.digests), sizes);
          const answer = new Uint8Array(present.length);
          for (let i = 0; i < present.length; i++) answer[i] = present[i] ? 1 : 0;
          return new Inline(answer);
        });
      case 'stat':
        return run(m.id, () => store.stat(keyOf(m.key)));
      case 'get':
        return run(m.id, (signal) => get(m.id, keyOf(m.key), m.offset, m.limit, signal));
      case 'getBytes':
        return run(m.id, async (signal) => {
          const bytes = await store.getBytes(keyOf(m.key), { signal });
          return bytes === undefined ? null : new Inline(bytes);
        });
      case 'put': {
        const { size, maxBytes } = m;
        if (m.body !== undefined) {
          const body = m.body;
          const sha256 = m.sha256;
          // The request thread hashed a CAS body as it sent it.
          const bodySha256 = sha256 === undefined ? undefined : () => sha256;
          return run(m.id, (signal) => store.put(keyOf(m.key), body, { size, maxBytes, signal, bodySha256 }), true);
        }
        const feed = new BodyFeed((bytes) => post({ t: 'credit', id: m.id, bytes }));
        bodies.set(m.id, feed);
        const bodySha256 = () => feed.sha256;
        return run(
          m.id,
          (signal) =>
            store.put(keyOf(m.key), feed, { size, maxBytes, signal, bodySha256 }).finally(() => {
              bodies.delete(m.id);
              feed.abandon();
            }),
          true,
        );
      }
      case 'data':
        return bodies.get(m.id)?.push(m.chunk);
      case 'end':
        return bodies.get(m.id)?.end(m.sha256);
      case 'fail':
        return bodies.get(m.id)?.fail(fromWireError(m.error));
      case 'delete':
        return run(m.id, () => store.delete(keyOf(m.key)), true);
      case 'abort':
        return operations.get(m.id)?.abort(new DOMException('the request thread aborted it', 'AbortError'));
      case 'pull':
        return leases.get(m.id)?.pull?.();
      case 'release': {
        const lease = leases.get(m.id);
        leases.delete(m.id);
        return lease?.release();
      }
    }
  };

  const usageTimer = setInterval(() => post({ t: 'usage', usage: store.usage() }), USAGE_INTERVAL_MS);
  usageTimer.unref();
  const onBatch = (batch: StoreRequest[]): void => {
    for (const m of batch) onRequest(m);
  };
  port.on('message', onBatch);
  // The request thread's life is its Worker's; its channel alone keeps nothing running.
  port.unref();

  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(usageTimer);
    const gone = new DOMException('the request thread ended', 'AbortError');
    for (const c of operations.values()) c.abort(gone);
    for (const feed of bodies.values()) feed.fail(Object.assign(new Error(gone.message), { code: 'ECONNRESET' }));
    for (const lease of leases.values()) lease.release();
    operations.clear();
    bodies.clear();
    leases.clear();
    port.off('message', onBatch);
    port.close();
  };
  port.on('close', close);
  return { close };
}

/** An answer of bytes: `getBytes`'s (the value is the bytes) or a get's in-memory entry's. */
class Inline {
  readonly bytes: Uint8Array;
  readonly release: (() => void) | undefined;
  /** The entry's size, for a get's answer; undefined for getBytes'. */
  readonly #size: number | undefined;

  constructor(bytes: Uint8Array, release?: () => void, size?: number) {
    this.bytes = bytes;
    this.release = release;
    this.#size = size;
  }

  /** The reply's value before the bytes are placed in it. */
  shape(): { size: number; bytes: Uint8Array } | null {
    return this.#size === undefined ? null : { size: this.#size, bytes: EMPTY };
  }

  /** Puts the sent copy of the bytes where the reply carries them. */
  place(reply: { value: unknown }, view: Uint8Array): void {
    if (this.#size === undefined) reply.value = view;
    else (reply.value as { bytes: Uint8Array }).bytes = view;
  }
}
const EMPTY = new Uint8Array(0);

function keyOf(wire: WireKey): Key {
  return wire;
}

interface Lease {
  pull?(): void;
  release(): void;
}

/**
 * A stream the request thread pulls; ends its lease itself at the end. The stream is read
 * ahead, up to READ_AHEAD_BYTES, while the request thread sends what it has; a pull takes
 * everything read by then in one message. So a large read-through crosses in a few hundred
 * messages instead of one per network chunk, and the bucket is read while the client is
 * written to.
 */
function streamLease(
  id: number,
  stream: Readable,
  post: (m: StoreReply, transfer?: TransferListItem[]) => void,
  ended: () => void,
): Lease {
  const queue: Uint8Array[] = [];
  let queued = 0;
  let done = false;
  let failure: unknown;
  let asked = false;
  /**
   * Answers a pull waiting: the bytes read so far first (once there are BATCH_MIN_BYTES of
   * them, or all there will be), then the end or the failure.
   */
  const answer = () => {
    if (!asked) return;
    if (queued >= BATCH_MIN_BYTES || (queued > 0 && (done || failure !== undefined))) {
      asked = false;
      const batch = joined(queue.splice(0), queued);
      queued = 0;
      if (!done) stream.resume();
      post({ t: 'chunk', id, chunk: batch }, [batch.buffer]);
    } else if (failure !== undefined) {
      asked = false;
      ended();
      post({ t: 'chunkErr', id, error: toWireError(failure) });
    } else if (done) {
      asked = false;
      ended();
      post({ t: 'chunk', id, chunk: null });
    }
  };
  stream.on('data', (chunk: Uint8Array) => {
    queue.push(chunk);
    queued += chunk.byteLength;
    if (queued >= READ_AHEAD_BYTES) stream.pause();
    answer();
  });
  stream.once('end', () => {
    done = true;
    answer();
  });
  stream.on('error', (err) => {
    failure ??= err;
    answer();
  });
  stream.once('close', () => {
    if (!done) failure ??= new Error('the entry stream closed before its end');
    answer();
  });
  return {
    pull() {
      asked = true;
      answer();
    },
    release() {
      stream.destroy();
    },
  };
}

/** How far a streamed entry is read ahead of the request thread's pulls. */
const READ_AHEAD_BYTES = 1024 * 1024;
/**
 * The least a pull is answered with while more is coming: each message costs a transfer
 * and a wake-up of both threads, network chunks are 16-64 KiB, and a quarter MiB arrives
 * in well under a millisecond from a bucket that streams at hundreds of MB/s.
 */
const BATCH_MIN_BYTES = 256 * 1024;

/**
 * A put's body as it arrives from the request thread: the store iterates it like any body,
 * and every chunk it takes earns the sender that much credit.
 */
class BodyFeed implements AsyncIterable<Uint8Array> {
  readonly #taken: (bytes: number) => void;
  readonly #queue: Uint8Array[] = [];
  #ended = false;
  #abandoned = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(taken: (bytes: number) => void) {
    this.#taken = taken;
  }

  push(chunk: Uint8Array): void {
    if (this.#abandoned) return;
    this.#queue.push(chunk);
    this.#signal();
  }

  /** The body's sha256 as its sender computed it, known at its end (CAS bodies). */
  sha256: string | undefined;

  end(sha256: string | undefined): void {
    this.sha256 = sha256;
    this.#ended = true;
    this.#signal();
  }

  fail(err: Error): void {
    this.#error ??= err;
    this.#signal();
  }

  /** The store is done with the body: later chunks are dropped. */
  abandon(): void {
    this.#abandoned = true;
    this.#queue.length = 0;
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#taken(chunk.byteLength);
        yield chunk;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}
