// The credentials a call presents, read the same way for every protocol: the
// `Authorization` header (HTTP) or metadata (gRPC), `Basic` or `Bearer`. Basic credentials
// may use either base64 alphabet: Bazel encodes a URL's user info with the URL-safe one.
//
// Bazel sends a `grpc://user:pass@host` URL's user info in the HTTP/2 `:authority` instead,
// which nghttp2 refuses (RFC 9113 8.3.1); hoard's plain-text gRPC listener moves it into
// `authorization: Basic` metadata before nghttp2 sees the request
// (src/frontends/reapi/authority-transcoder.ts), so it arrives here like any Basic
// credentials. On grpcs:// listeners only metadata is read.
import type { Call } from '../core/call.ts';
import { AccessRefused, ErrorCode } from '../core/errors.ts';

/** Longest Authorization value read; a JWT with many claims stays well under it. */
export const MAX_CREDENTIALS_BYTES = 8192;

export type Credentials =
  | { readonly kind: 'basic'; readonly user: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'none' };

const NONE: Credentials = { kind: 'none' };

function malformed(message: string, challenges: readonly string[]): AccessRefused {
  return new AccessRefused(ErrorCode.Unauthenticated, 'credentials_malformed', message, challenges);
}

function basic(encoded: string, challenges: readonly string[]): Credentials {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw malformed('the Basic credentials are not base64', challenges);
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw malformed('the Basic credentials are not user:password', challenges);
  return { kind: 'basic', user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The call's credentials; AccessRefused (Unauthenticated, with `challenges`: the schemes
 * the server takes) when they are oversized or malformed.
 */
export function credentialsOf(call: Call, challenges: readonly string[]): Credentials {
  const header = call.header('authorization');
  if (header !== undefined) {
    if (header.length > MAX_CREDENTIALS_BYTES)
      throw new AccessRefused(
        ErrorCode.Unauthenticated,
        'credentials_oversized',
        `the Authorization value is over ${MAX_CREDENTIALS_BYTES} bytes`,
        challenges,
      );
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space < 0 ? header.length : space).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'basic') return basic(value, challenges);
    if (scheme === 'bearer') {
      if (value === '' || /\s/.test(value)) throw malformed('the Bearer token is empty or has spaces', challenges);
      return { kind: 'bearer', token: value };
    }
    throw malformed('the Authorization scheme is not Basic or Bearer', challenges);
  }
  return NONE;
}
