// WriteRequest decoded straight from the DATA chunks a message arrived in. A 128 KiB
// upload message spans about nine HTTP/2 chunks; gathering them into one buffer first
// allocated and copied every uploaded byte once more, and that allocation rate is what
// drove the server's full garbage collections during uploads. Here `data` is the list of
// views into the chunks it lies in, which the store hashes and writes as they are.
// Field numbers (docs/PROTOCOLS.md §2.2): resource_name = 1, write_offset = 2 (int64),
// finish_write = 3, data = 10. Unknown fields, and known ones of another wire type, are
// skipped, as protobuf requires; a repeated scalar field keeps its last value.
import { ErrorCode, HoardError } from '../../core/errors.ts';

export interface WriteRequest {
  readonly resourceName: string;
  /** Negative when the client sent a negative int64; beyond 2^53 precision is lost (sizes are range-checked). */
  readonly writeOffset: number;
  readonly finishWrite: boolean;
  /** The data bytes as views into the received chunks, in order (empty when unset). */
  readonly data: readonly Buffer[];
}

/** Decodes one WriteRequest from the parts of its message, in order. Throws on malformed bytes. */
export function decodeWriteRequest(parts: readonly Buffer[]): WriteRequest {
  const c = new PartsCursor(parts);
  let resourceName = '';
  let writeOffset = 0;
  let finishWrite = false;
  let data: readonly Buffer[] = [];
  while (!c.atEnd()) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      resourceName = c.string(c.varint());
    } else if (field === 2 && wire === 0) {
      writeOffset = c.int64();
    } else if (field === 3 && wire === 0) {
      finishWrite = c.varint() !== 0;
    } else if (field === 10 && wire === 2) {
      data = c.views(c.varint());
    } else if (wire === 0) {
      c.varint();
    } else if (wire === 1 || wire === 5) {
      c.views(wire === 1 ? 8 : 4);
    } else if (wire === 2) {
      c.views(c.varint());
    } else {
      throw malformed(`unsupported wire type ${wire}`);
    }
  }
  return { resourceName, writeOffset, finishWrite, data };
}

/** Reads a message laid out over several buffers without joining them. */
class PartsCursor {
  readonly #parts: readonly Buffer[];
  #part = 0;
  #pos = 0;

  constructor(parts: readonly Buffer[]) {
    this.#parts = parts;
    this.#settle();
  }

  /** Moves past exhausted (and empty) parts. */
  #settle(): void {
    while (this.#part < this.#parts.length && this.#pos >= this.#parts[this.#part]!.length) {
      this.#part++;
      this.#pos = 0;
    }
  }

  atEnd(): boolean {
    return this.#part >= this.#parts.length;
  }

  #byte(): number {
    if (this.atEnd()) throw malformed('truncated varint');
    const b = this.#parts[this.#part]![this.#pos++]!;
    this.#settle();
    return b;
  }

  /** An unsigned varint (tags, lengths, booleans); inexact past 2^53, which no valid length is. */
  varint(): number {
    return this.#varint(false);
  }

  /** An int64 varint: a negative value is sent as its 64-bit two's complement (10 bytes). */
  int64(): number {
    return this.#varint(true);
  }

  #varint(signed: boolean): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.#byte();
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    // Past 2^49, and every negative value: exact arithmetic.
    let big = BigInt(result);
    for (let i = 7; i < 10; i++) {
      const b = this.#byte();
      big |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return Number(signed ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big));
    }
    throw malformed('varint longer than 10 bytes');
  }

  /** The next `length` bytes as views of the parts they lie in. */
  views(length: number): Buffer[] {
    const out: Buffer[] = [];
    let left = length;
    while (left > 0) {
      if (this.atEnd()) throw malformed('a field runs past the end of its message');
      const part = this.#parts[this.#part]!;
      const n = Math.min(left, part.length - this.#pos);
      out.push(this.#pos === 0 && n === part.length ? part : part.subarray(this.#pos, this.#pos + n));
      this.#pos += n;
      left -= n;
      this.#settle();
    }
    return out;
  }

  string(length: number): string {
    const views = this.views(length);
    if (views.length === 0) return '';
    return (views.length === 1 ? views[0]! : Buffer.concat(views)).toString('utf8');
  }
}

function malformed(why: string): HoardError {
  return new HoardError(ErrorCode.InvalidArgument, `malformed WriteRequest: ${why}`);
}
