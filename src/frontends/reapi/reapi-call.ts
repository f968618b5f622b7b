// A REAPI gRPC call described as a call (src/core/call.ts). Its namespace is the request's
// instance name, known once the request message (or, for ByteStream, its resource name)
// is decoded; what it does to that namespace is fixed per method.
import type { Identity } from '../../core/identity.ts';
import type { IncomingHttpHeaders } from 'node:http2';
import type { Access, Call, Peer, Protocol } from '../../core/call.ts';

/** What each method does to its namespace; a method not listed touches none. */
const ACCESS: Readonly<Record<string, Access>> = {
  GetActionResult: 'read',
  FindMissingBlobs: 'read',
  BatchReadBlobs: 'read',
  GetTree: 'read',
  Read: 'read',
  QueryWriteStatus: 'read',
  UpdateActionResult: 'write',
  BatchUpdateBlobs: 'write',
  Write: 'write',
};

export class ReapiCall implements Call {
  readonly protocol: Protocol = 'reapi';
  readonly operation: string;
  readonly target: string;
  namespace: string | undefined = undefined;
  readonly access: Access;
  identity: Identity | undefined = undefined;
  cause: string | undefined = undefined;
  error: unknown = undefined;
  readonly startedAt: number;
  readonly #headers: IncomingHttpHeaders;
  readonly #peer: () => Peer;

  constructor(method: string, path: string, startedAt: number, headers: IncomingHttpHeaders, peer: () => Peer) {
    this.operation = method;
    this.target = path;
    this.access = ACCESS[method] ?? 'none';
    this.startedAt = startedAt;
    this.#headers = headers;
    this.#peer = peer;
  }

  get peer(): Peer {
    return this.#peer();
  }

  header(name: string): string | undefined {
    const v = this.#headers[name];
    return Array.isArray(v) ? v[0] : v;
  }
}
