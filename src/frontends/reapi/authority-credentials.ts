// Bazel sends a `grpc://user:password@host:port` URL's user info inside the HTTP/2
// `:authority` of every request, not as `authorization` metadata. HTTP/2 forbids user info
// there (RFC 9113 8.3.1) and nghttp2 resets such a stream before any JavaScript sees it, so
// the plain-text gRPC listener rewrites those header blocks on their way in (see
// authority-transcoder.ts): the user info leaves `:authority` and becomes Basic credentials,
// which access control reads like any others (src/access/credentials.ts).
//
// Values here are latin1 strings, one char per wire byte (hpack-codec.ts).
import type { HeaderField } from './hpack-codec.ts';

/** `:authority` split into the host (`host:port`) and user info (still percent-encoded). */
export interface AuthorityParts {
  readonly host: string;
  readonly userinfo: string;
}

/** Whether an `:authority` value carries user info (the only thing that decides transcoding). */
export function hasUserinfo(authority: string): boolean {
  return authority.includes('@');
}

/**
 * Splits user info off an authority, at its last '@' (a host never contains one, and a
 * client that left an '@' of the password unencoded is still read right); undefined
 * without user info.
 */
export function splitAuthority(authority: string): AuthorityParts | undefined {
  const at = authority.lastIndexOf('@');
  if (at < 0) return undefined;
  return { host: authority.slice(at + 1), userinfo: authority.slice(0, at) };
}

/**
 * The `authorization` value for URL user info: `Basic base64(user:password)`, each part
 * percent-decoded to bytes first (RFC 3986 3.2.1), as browsers and curl turn URL user info
 * into Basic credentials. User info without ':' is a user with an empty password.
 */
export function basicFromUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const password = colon < 0 ? '' : userinfo.slice(colon + 1);
  const bytes = Buffer.concat([percentDecode(user), Buffer.from(':'), percentDecode(password)]);
  return `Basic ${bytes.toString('base64')}`;
}

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** %XX escapes to their bytes; anything else (a stray '%' too) stays as it is. */
function percentDecode(s: string): Buffer {
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && HEX_PAIR.test(s.slice(i + 1, i + 3))) {
      out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

/**
 * A request's header fields with the user info moved out of `:authority`: the authority
 * keeps its host only, and unless the block already has `authorization` metadata (which
 * wins, as the client set it explicitly) an `authorization` field with Basic credentials is
 * added, as never-indexed. A block without user info comes back as it is.
 */
export function moveUserinfo(fields: readonly HeaderField[]): readonly HeaderField[] {
  const i = fields.findIndex((f) => f.name === ':authority');
  const parts = i < 0 ? undefined : splitAuthority(fields[i]!.value);
  if (parts === undefined) return fields;
  const out = fields.slice();
  out[i] = { ...fields[i]!, value: parts.host };
  if (!fields.some((f) => f.name === 'authorization')) {
    out.push({ name: 'authorization', value: basicFromUserinfo(parts.userinfo), sensitive: true });
  }
  return out;
}
