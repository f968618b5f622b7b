// Lower-case hex checks and decoding for digests, on the hot path of FindMissingBlobs and
// every store lookup. The characters are copied into a Buffer first: indexing bytes is
// several times cheaper than charCodeAt or a regular expression here.

const NIBBLE = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) NIBBLE[48 + c] = c;
for (let c = 0; c < 6; c++) NIBBLE[97 + c] = 10 + c;

let chars = Buffer.allocUnsafe(128);

/** Copies `text` as UTF-8 into the scratch buffer; false when it is not `length` bytes of ASCII-sized text. */
function load(text: string, length: number): boolean {
  if (text.length !== length) return false;
  if (chars.length < length) chars = Buffer.allocUnsafe(length);
  // As UTF-8 a non-ASCII character becomes bytes >= 0x80, which NIBBLE rejects; one that
  // pushes the text past `length` bytes shows as a short write or such a byte.
  return chars.write(text, 0, length, 'utf8') === length;
}

/** True when `text` is exactly `length` lower-case hex digits. */
export function isLowerHex(text: string, length: number): boolean {
  if (!load(text, length)) return false;
  for (let i = 0; i < length; i++) if (NIBBLE[chars[i]!]! < 0) return false;
  return true;
}

/** Decodes `text`, exactly 2 × out.length lower-case hex digits, into `out`; false (out undefined) otherwise. */
export function decodeLowerHex(text: string, out: Uint8Array): boolean {
  if (!load(text, 2 * out.length)) return false;
  for (let i = 0; i < out.length; i++) {
    const hi = NIBBLE[chars[2 * i]!]!;
    const lo = NIBBLE[chars[2 * i + 1]!]!;
    if ((hi | lo) < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}
