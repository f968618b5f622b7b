// How a client says who it is, the same way for both transports: ONE Authorization value
// (a bearer token, or Basic from the server URL's user info) sent on every call, as an HTTP
// header or as gRPC metadata, and a client certificate for mTLS.
//
// Secrets never reach a message: what a client prints is `client.server`, the URL rebuilt
// from its scheme, host and path (no user info), and a server string printed before it
// could be parsed goes through `redactUrl`. Over gRPC the user info goes as metadata, which
// every server reads, not in the `:authority` (RFC 9113 8.3.1 forbids it there, and most
// HTTP/2 servers refuse it), unless `grpcAuthorityCredentials` asks for Bazel's way.
import { createSecureContext } from 'node:tls';
import { ErrorCode, HoardError } from '../core/errors.ts';
import type { BasicCredentials, ClientOptions } from './types.ts';

function invalid(message: string): HoardError {
  return new HoardError(ErrorCode.InvalidArgument, message);
}

/** The URL's user info as Basic credentials (percent-decoded), or undefined when it has none. */
export function userinfoOf(url: URL): BasicCredentials | undefined {
  if (url.username === '' && url.password === '') return undefined;
  try {
    return { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  } catch {
    // Not the password: the message may be printed.
    throw invalid(`the user info of ${redactUrl(url.href)} is not valid percent-encoding`);
  }
}

/**
 * The one Authorization value a client sends, or undefined: `token` (Bearer), else the URL's
 * user info (Basic), else `opts.basic`, else an `authorization` in `opts.headers` (which the
 * caller keeps as it is). InvalidArgument, naming no secret, for a value no server can read.
 */
export function authorizationOf(url: URL, opts: ClientOptions): string | undefined {
  if (opts.token !== undefined) {
    // RFC 6750 b64token plus what JWTs and hoard tokens use; a header value may not hold
    // spaces or control characters (undici would refuse it on every request).
    if (!/^[\x21-\x7e]+$/.test(opts.token)) throw invalid('the token is empty or holds spaces or control characters');
    return `Bearer ${opts.token}`;
  }
  const basic = userinfoOf(url) ?? opts.basic;
  if (basic === undefined) return undefined;
  if (basic.user.includes(':')) throw invalid(`the user name ${JSON.stringify(basic.user)} may not contain ':'`);
  return `Basic ${Buffer.from(`${basic.user}:${basic.password}`, 'utf8').toString('base64')}`;
}

/** `headers` with `authorization` (when given) replacing any authorization header, whatever its case. */
export function withAuthorization(
  headers: Readonly<Record<string, string>> = {},
  authorization: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (authorization === undefined || k.toLowerCase() !== 'authorization') out[k] = v;
  if (authorization !== undefined) out['authorization'] = authorization;
  return out;
}

export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/**
 * The TLS material of `opts` for a server at `url`. A client certificate is checked here,
 * once (both halves given, PEM, key matching the certificate), so a mistake is one clear
 * InvalidArgument instead of a failure on every connect; and it is refused for http:// and
 * grpc://, where it would silently not be sent.
 */
export function clientTls(url: URL, opts: ClientOptions): ClientTls {
  const ca = opts.ca === undefined ? undefined : Buffer.from(opts.ca);
  if (opts.cert === undefined && opts.key === undefined) return { ca };
  if (opts.cert === undefined || opts.key === undefined)
    throw invalid('a client certificate needs its key: give both cert and key, or neither');
  if (url.protocol !== 'https:' && url.protocol !== 'grpcs:')
    throw invalid(`a client certificate is for https:// and grpcs:// servers, not ${url.protocol}//`);
  const cert = Buffer.from(opts.cert);
  const key = Buffer.from(opts.key);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's reasons ("key values mismatch", "no start line"), never the key itself.
    throw invalid(`the client certificate and key are not a usable PEM pair: ${(err as Error).message}`);
  }
  return { ca, cert, key };
}

/**
 * `text` as it may be printed: a URL's password replaced by `***` (the user name stays, so a
 * person can tell which account was used). A string that does not parse as a URL loses
 * everything between `//` and its last `@` after the first `:`, since there is no telling
 * where a mistyped password ends.
 */
export function redactUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url !== undefined) {
    if (url.password === '') return text;
    url.password = '***';
    return url.href;
  }
  const start = text.indexOf('//');
  const at = text.lastIndexOf('@');
  if (start < 0 || at < start) return text;
  const colon = text.indexOf(':', start + 2);
  if (colon < 0 || colon > at) return text;
  return `${text.slice(0, colon)}:***${text.slice(at)}`;
}

/** `server` without its user info, for URLs that are passed on and printed (the CLI's --server). */
export function withoutUserinfo(server: string): string {
  const url = new URL(server);
  if (url.username === '' && url.password === '') return server;
  url.username = '';
  url.password = '';
  return url.href.endsWith('/') && !server.endsWith('/') ? url.href.slice(0, -1) : url.href;
}
