// One entry point for both transports, chosen by the URL scheme:
// http:// and https:// speak the Bazel HTTP cache protocol (a path prefix namespaces);
// grpc:// and grpcs:// speak REAPI v2 (ContentAddressableStorage, ActionCache, ByteStream).
import { ErrorCode, HoardError } from '../core/errors.ts';
import { GrpcCacheClient } from './grpc-client.ts';
import { HttpCacheClient } from './http-client.ts';
import type { CacheClient, ClientOptions } from './types.ts';

export function createClient(server: string, opts: ClientOptions = {}): CacheClient {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new HoardError(ErrorCode.InvalidArgument, `invalid server URL ${JSON.stringify(server)}: expected http://, https://, grpc:// or grpcs://HOST:PORT`);
  }
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return new HttpCacheClient(url, opts);
    case 'grpc:':
    case 'grpcs:':
      return new GrpcCacheClient(url, opts);
    default:
      throw new HoardError(ErrorCode.InvalidArgument, `unsupported scheme ${url.protocol} in ${JSON.stringify(server)}: expected http, https, grpc or grpcs`);
  }
}
