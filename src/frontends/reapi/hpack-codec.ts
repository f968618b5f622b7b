// HPACK (RFC 7541) for the connections whose header blocks hoard rewrites
// (authority-transcoder.ts): a decoder that mirrors the client's encoder, dynamic table
// included, and an encoder that never touches the receiver's dynamic table.
//
// Decoding is hpack.js's (docs/ARCHITECTURE.md, "Dependencies and why"): Huffman, integer
// and table rules are its; this file gives it a synchronous, typed face. Encoding is ours,
// because what it must do is small and must not index: static-table indices where a name
// (or name and value) is there, literal strings otherwise, never Huffman (the peer decodes
// either, and literals keep it obviously right). Strings are latin1: one char per byte, so
// any header byte survives a decode and a re-encode unchanged.
import { createRequire } from 'node:module';

/** One header field as it was on the wire; `sensitive`: sent as never-indexed (RFC 7541 6.2.3). */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
  readonly sensitive: boolean;
}

/** The part of hpack.js used here (it is CommonJS without typings). */
interface HpackJs {
  decompressor: { create(options: { table: { maxSize: number } }): Decompressor };
  'static-table': { table: readonly { name: string; value: string }[] };
}
interface Decompressor {
  write(chunk: Buffer): boolean;
  execute(): void;
  read(): { name: string; value: string; neverIndex: boolean } | null;
  on(event: 'error', listener: (err: Error) => void): void;
}

const hpack = createRequire(import.meta.url)('hpack.js') as HpackJs;

/** SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 6.5.2): a decoder's table starts this size. */
const DEFAULT_HEADER_TABLE_SIZE = 4096;

/** A header block the decoder could not decode (its message names no header value). */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}

/**
 * The decoding half of one connection's HPACK context. Blocks must be given whole, in the
 * order the client sent them: each one changes the dynamic table the next is read against.
 * After a failure the context is lost (the tables no longer agree), so every later call
 * fails too: the connection must end.
 */
export class HpackDecoder {
  readonly #d: Decompressor;
  #failure: Error | undefined;

  /** `maxTableSize`: the SETTINGS_HEADER_TABLE_SIZE this side advertised (the ceiling of size updates). */
  constructor(maxTableSize = DEFAULT_HEADER_TABLE_SIZE) {
    this.#d = hpack.decompressor.create({ table: { maxSize: maxTableSize } });
    // execute() reports a malformed block by emitting 'error' synchronously.
    this.#d.on('error', (err) => (this.#failure ??= err));
  }

  /** The fields of one complete header block; HpackError when it is malformed. */
  decode(block: Buffer): HeaderField[] {
    if (this.#failure === undefined && block.length > 0) {
      try {
        this.#d.write(block);
        this.#d.execute();
      } catch (err) {
        this.#failure ??= err as Error;
      }
    }
    const fields: HeaderField[] = [];
    for (let f = this.#d.read(); f !== null; f = this.#d.read()) {
      fields.push({ name: f.name, value: f.value, sensitive: f.neverIndex });
    }
    // The library's messages name the rule broken, never the bytes; still, only ours goes on.
    if (this.#failure !== undefined) throw new HpackError('malformed HPACK header block');
    return fields;
  }
}

// Static table (RFC 7541 Appendix A) lookups: a name's first index, and name+value pairs.
const STATIC_NAME = new Map<string, number>();
const STATIC_FIELD = new Map<string, number>();
hpack['static-table'].table.forEach(({ name, value }, i) => {
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
  STATIC_FIELD.set(`${name}\0${value}`, i + 1);
});

/**
 * One header block from `fields`, using only the static table: a field that is there whole
 * is sent as its index, any other as a literal that is not indexed (never-indexed when
 * `sensitive`), so the receiver's dynamic table is never touched.
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  const chunks: Buffer[] = [];
  const flush = () => {
    if (out.length > 0) chunks.push(Buffer.from(out));
    out.length = 0;
  };
  const literal = (s: string) => {
    const bytes = Buffer.from(s, 'latin1');
    writeInt(out, 0x00, 7, bytes.length); // H = 0: not Huffman-coded
    flush();
    chunks.push(bytes);
  };
  for (const f of fields) {
    const whole = f.sensitive ? undefined : STATIC_FIELD.get(`${f.name}\0${f.value}`);
    if (whole !== undefined) {
      writeInt(out, 0x80, 7, whole); // indexed field (6.1)
      continue;
    }
    const nameIndex = STATIC_NAME.get(f.name) ?? 0;
    writeInt(out, f.sensitive ? 0x10 : 0x00, 4, nameIndex); // literal never / without indexing (6.2.3 / 6.2.2)
    if (nameIndex === 0) literal(f.name);
    literal(f.value);
  }
  flush();
  return Buffer.concat(chunks);
}

/** An HPACK integer (RFC 7541 5.1) with an N-bit prefix, after the first byte's `flags`. */
function writeInt(out: number[], flags: number, prefixBits: number, n: number): void {
  const max = (1 << prefixBits) - 1;
  if (n < max) {
    out.push(flags | n);
    return;
  }
  out.push(flags | max);
  let rest = n - max;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}
