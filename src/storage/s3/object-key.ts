// Where a hoard key lives in a bucket: `<prefix>/<keyspace>/<namespace segment>/<id segment>`
// (no leading `<prefix>/` when the prefix is empty), e.g. with prefix `hoard`:
//
//   hoard/cas/_/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//   hoard/ac/_other%2Finstance/9f86d081...
//   hoard/raw/_turbo/~3a1f...   (a raw id too long to spell out, by its sha256)
//
// The map is injective, so no two keys share an object:
// - A segment spells its text with the bytes [A-Za-z0-9-] as they are and every other UTF-8
//   byte as %XX (upper-case hex): an injective encoding that never yields '/', '_', '~',
//   '.' or '%' followed by anything but two hex digits. Hex ids (CAS, AC) stay readable.
// - The namespace segment is '_' + its spelling, so the default namespace '' is '_' and no
//   namespace segment is ever empty (S3 tools treat `a//b` badly) or '.'/'..'.
// - A spelling longer than SPELLED_MAX characters (raw ids and namespaces are up to 1024
//   bytes, a spelling up to three times that, S3 keys at most 1024 bytes) is replaced by
//   '~' + the sha256 of the text: '~' never starts a spelling, so the two forms cannot meet,
//   and two long texts meet only if sha256 collides, which content addressing assumes never
//   happens anyway.
// - The keyspace is one of three fixed words. So the whole key is at most the prefix plus
//   ~500 bytes; the prefix is limited to PREFIX_MAX bytes.
import { createHash } from 'node:crypto';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';

/** Longest spelled-out segment; longer texts go by their hash (70 characters). */
const SPELLED_MAX = 240;
/** Longest prefix, so that every key stays within S3's 1024 bytes. */
export const PREFIX_MAX = 256;

/** Strips slashes at both ends; throws InvalidArgument for a prefix S3 keys cannot carry. */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (Buffer.byteLength(p) > PREFIX_MAX) {
    throw new HoardError(ErrorCode.InvalidArgument, `an S3 key prefix must be at most ${PREFIX_MAX} bytes`);
  }
  return p;
}

/** The object key of `key` under `prefix` (already normalized). */
export function objectKey(prefix: string, key: Key): string {
  const path = `${key.keyspace}/${segment('_', key.namespace)}/${segment('', key.id)}`;
  return prefix === '' ? path : `${prefix}/${path}`;
}

function segment(lead: string, text: string): string {
  const spelled = lead + spell(text);
  if (spelled.length <= SPELLED_MAX) return spelled;
  return `~${createHash('sha256').update(text).digest('hex')}`;
}

const PLAIN = /^[A-Za-z0-9-]*$/;

function spell(text: string): string {
  if (PLAIN.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += PLAIN.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
