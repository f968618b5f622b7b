// The description of an HTTP request as a call (src/core/call.ts), kept on its response so
// that whoever answers it (a frontend, the route table, the error path) can complete it.
// Peer and headers are read from the request only when an interceptor asks for them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Identity } from '../../core/identity.ts';
import { verifiedCertificateOf, type Access, type Call, type Peer, type Protocol } from '../../core/call.ts';

export class HttpCall implements Call {
  protocol: Protocol = 'unrouted';
  operation: string;
  namespace: string | undefined = undefined;
  access: Access = 'none';
  identity: Identity | undefined = undefined;
  cause: string | undefined = undefined;
  error: unknown = undefined;
  /**
   * The body length the response declared (0 for HEAD), recorded by writeHead: Node cannot
   * read back headers given to res.writeHead, and the outcome reports it.
   */
  bodyBytes: number | undefined = undefined;
  readonly startedAt = performance.now();
  readonly #req: IncomingMessage;

  constructor(req: IncomingMessage) {
    this.#req = req;
    this.operation = req.method ?? 'UNKNOWN';
  }

  get target(): string {
    return this.#req.url ?? '/';
  }

  get peer(): Peer {
    const socket = this.#req.socket;
    return { address: socket.remoteAddress, port: socket.remotePort, certificate: verifiedCertificateOf(socket) };
  }

  header(name: string): string | undefined {
    const v = this.#req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }
}

const CALL = Symbol('hoard.call');
interface WithCall {
  [CALL]?: HttpCall;
}

export function attachCall(res: ServerResponse, call: HttpCall): void {
  (res as WithCall)[CALL] = call;
}

/** The call a response answers; undefined only for a response no listener created. */
export function callOf(res: ServerResponse): HttpCall | undefined {
  return (res as WithCall)[CALL];
}
