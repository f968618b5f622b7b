// gRPC's message framing on an HTTP/2 stream: each message is a 5-byte prefix (a
// compressed flag, then the length, big-endian) and the bytes. DATA chunks cut messages
// anywhere, so a reader gathers prefixes and bodies across chunks. Used by the server
// transport and by the benchmark's lean client; no I/O here.

export interface FrameReaderOptions {
  /** Largest message accepted; a prefix announcing more ends the reading with an error. */
  readonly maxMessage?: number;
  /**
   * Keep only the first `headOnly` bytes of each message (the rest is counted, not kept):
   * for a reader that needs a message's tag and length, not its data.
   */
  readonly headOnly?: number;
}

/** Why a frame reader stopped: the caller turns it into its protocol's error. */
export type FrameError =
  | { readonly kind: 'compressed' }
  | { readonly kind: 'bad-flag'; readonly flag: number }
  | { readonly kind: 'too-large'; readonly length: number };

export class GrpcFrameReader {
  readonly #maxMessage: number;
  readonly #headOnly: number;
  readonly #prefix = Buffer.allocUnsafe(5);
  #prefixFill = 0;
  #parts: Buffer[] = [];
  #fill = 0;
  #length = -1; // of the message being read; -1 while its prefix is incomplete

  constructor(options: FrameReaderOptions = {}) {
    this.#maxMessage = options.maxMessage ?? Number.POSITIVE_INFINITY;
    this.#headOnly = options.headOnly ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Reads one chunk; `onMessage` gets each message completed by it (a view when the message
   * lies in one chunk) with its full length. Returns an error, and reads nothing more of the
   * chunk, when a prefix is refused.
   */
  push(chunk: Buffer, onMessage: (msg: Buffer, length: number) => void): FrameError | undefined {
    return this.pushParts(chunk, (parts, length) =>
      onMessage(parts.length === 1 ? parts[0]! : Buffer.concat(parts), length),
    );
  }

  /**
   * As push, but a message is handed on as the views of the chunks it lies in, in order
   * (none for an empty message): for a consumer that can read it without joining them.
   */
  pushParts(chunk: Buffer, onMessage: (parts: Buffer[], length: number) => void): FrameError | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.#length < 0) {
        const n = Math.min(5 - this.#prefixFill, chunk.length - at);
        chunk.copy(this.#prefix, this.#prefixFill, at, at + n);
        this.#prefixFill += n;
        at += n;
        if (this.#prefixFill < 5) return undefined;
        if (this.#prefix[0] === 1) return { kind: 'compressed' };
        if (this.#prefix[0] !== 0) return { kind: 'bad-flag', flag: this.#prefix[0]! };
        const length = this.#prefix.readUInt32BE(1);
        if (length > this.#maxMessage) return { kind: 'too-large', length };
        this.#length = length;
        this.#fill = 0;
      }
      const n = Math.min(this.#length - this.#fill, chunk.length - at);
      const keep = Math.max(0, Math.min(n, this.#headOnly - this.#fill));
      if (keep > 0) this.#parts.push(at === 0 && keep === chunk.length ? chunk : chunk.subarray(at, at + keep));
      this.#fill += n;
      at += n;
      if (this.#fill === this.#length) {
        const parts = this.#parts;
        const length = this.#length;
        this.#parts = [];
        this.#length = -1;
        this.#prefixFill = 0;
        onMessage(parts, length);
      }
    }
    return undefined;
  }

  /** True between messages: a stream that ends otherwise was cut inside one. */
  get atBoundary(): boolean {
    return this.#length < 0 && this.#prefixFill === 0;
  }
}

/** The 5-byte prefix of an uncompressed message of `length` bytes. */
export function framePrefix(length: number): Buffer {
  const p = Buffer.allocUnsafe(5);
  p[0] = 0;
  p.writeUInt32BE(length, 1);
  return p;
}
