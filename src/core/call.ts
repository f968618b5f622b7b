// A call, HTTP request or gRPC call, described the same way whatever carried it, so that
// what every call goes through (access log, request metrics, error counting, and the
// access control to come) is written once, as interceptors in one chain.
//
// The listener creates the description when the call arrives; the frontend completes it
// (protocol, operation, namespace, access) once it has decoded enough of the request, and
// asks the chain to admit it before it touches the store. The chain hears the outcome
// exactly once, when the answer is finished or abandoned.

import type { Identity } from './identity.ts';

/** Every wire protocol hoard speaks, plus the operator endpoints and requests no route claims. */
export type Protocol =
  'bazel-http' | 'ccache' | 'reapi' | 'turborepo' | 'nx' | 'gradle' | 'sccache' | 'admin' | 'unrouted';

/** What a call does to its namespace; 'admin' is the operator endpoints; 'none' a call that touches nothing. */
export type Access = 'read' | 'write' | 'admin' | 'none';

export interface Peer {
  /** The remote IP address, undefined once the socket is gone. */
  readonly address: string | undefined;
  readonly port: number | undefined;
  /**
   * The subject (its common name, else the whole subject) of a client certificate the
   * listener verified against --tls-ca-file; undefined without one.
   */
  readonly certificate?: string;
}

/** Subjects already worked out, per socket: a connection's certificate never changes. */
const subjects = new WeakMap<object, string | undefined>();

/** The verified client certificate's subject on `socket`, when it is a TLS socket that has one. */
export function verifiedCertificateOf(socket: unknown): string | undefined {
  // The socket is gone once the connection closed (a call answered after its peer left).
  if (socket === undefined || socket === null) return undefined;
  const tls = socket as { authorized?: boolean; getPeerCertificate?: () => { subject?: Record<string, unknown> } };
  if (tls.authorized !== true || tls.getPeerCertificate === undefined) return undefined;
  if (subjects.has(tls)) return subjects.get(tls);
  const subject = tls.getPeerCertificate().subject;
  const cn = subject?.['CN'];
  const name =
    subject === undefined
      ? undefined
      : typeof cn === 'string'
        ? cn
        : Object.entries(subject)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(', ');
  subjects.set(tls, name);
  return name;
}

export interface Call {
  protocol: Protocol;
  /** The protocol's name for what is asked: an HTTP method, a gRPC method name. Bounded: a metrics label. */
  operation: string;
  /** The request target: an HTTP path with its query, a gRPC method path. */
  readonly target: string;
  /** The namespace the call reads or writes; undefined until the frontend decoded it, or when it has none. */
  namespace: string | undefined;
  access: Access;
  /** Who the call is, once access control admitted it; undefined without access control. */
  identity: Identity | undefined;
  readonly peer: Peer;
  /** A request header or metadata value (lower-case name); the first one when repeated. */
  header(name: string): string | undefined;
  /** `performance.now()` when the call arrived. */
  readonly startedAt: number;
  /**
   * The stable cause of a failed answer (a HoardError code, or a protocol refusal such as
   * `method_not_allowed`); set by whoever answers with the failure.
   */
  cause: string | undefined;
  /** The error behind a server-side failure, for the log. */
  error: unknown;
}

export interface CallOutcome {
  /** What the client was told: an HTTP status, a gRPC status name, or 'aborted' when the answer was cut. */
  readonly status: number | string;
  /** True for a success or a miss; false for a refusal, a failure or a cut answer. */
  readonly ok: boolean;
  readonly seconds: number;
  /** Body bytes of the answer, when known. */
  readonly bytesSent?: number;
}

/**
 * One concern every call goes through. `admit` runs before the frontend acts on the call
 * and refuses it by throwing a HoardError (the frontend answers with the protocol's status
 * for it); it should stay synchronous on the hot path. `finish` runs once per call, after
 * its answer, and must not throw.
 */
export interface Interceptor {
  readonly name: string;
  admit?(call: Call): void | Promise<void>;
  finish?(call: Call, outcome: CallOutcome): void;
  /** Releases what the interceptor holds (watched files); the chain is not used afterwards. */
  close?(): void;
}

/** The interceptors in order, as one. */
export interface CallChain {
  /** Resolves (or returns, when every interceptor is synchronous) once all admitted the call. */
  admit(call: Call): void | Promise<void>;
  finish(call: Call, outcome: CallOutcome): void;
  close(): void;
}
