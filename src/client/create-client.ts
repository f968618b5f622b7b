// One entry point for both transports, chosen by the URL scheme:
// http:// and https:// speak the Bazel HTTP cache protocol (a path prefix namespaces);
// grpc:// and grpcs:// speak REAPI v2 (ContentAddressableStorage, ActionCache, ByteStream).
// User info in the URL (`https://user:pass@host`) is sent as Basic credentials
// (client-credentials.ts); it never appears in a message, this file's included.
import { ErrorCode, HoardError } from '../core/errors.ts';
import { redactUrl } from './client-credentials.ts';
import { GrpcCacheClient } from './grpc-client.ts';
import { HttpCacheClient } from './http-client.ts';
import type { CacheClient, ClientOptions } from './types.ts';

export function createClient(server: string, opts: ClientOptions = {}): CacheClient {
  const url = serverUrl(server);
  return url.protocol === 'http:' || url.protocol === 'https:'
    ? new HttpCacheClient(url, opts)
    : new GrpcCacheClient(url, opts);
}

/** The server URL, checked: InvalidArgument unless it parses and has one of the four schemes. */
export function serverUrl(server: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `invalid server URL ${JSON.stringify(redactUrl(server))}: expected http://, https://, grpc:// or grpcs://HOST:PORT`,
    );
  }
  if (!['http:', 'https:', 'grpc:', 'grpcs:'].includes(url.protocol)) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `unsupported scheme ${url.protocol} in ${JSON.stringify(redactUrl(server))}: expected http, https, grpc or grpcs`,
    );
  }
  return url;
}
