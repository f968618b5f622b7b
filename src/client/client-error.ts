// How a client call failed, in terms the retry policy can decide on. Every transport turns
// its native failures (undici / node socket errors, HTTP statuses, gRPC statuses) into a
// ClientError naming the server, so a person reading the message knows where to look.
import { ErrorCode, HoardError, type ErrorCode as Code } from '../core/errors.ts';

/**
 * - connect: no connection could be made (refused, unknown host, connect timeout) — retrying
 *   cannot help, so retries stop at once (rule 5: a dead server fails fast);
 * - dropped: an established connection broke (reset, closed by the peer or a proxy);
 * - status: the server answered with an error status (HTTP status or gRPC code);
 * - timeout: no progress for the idle timeout;
 * - aborted: the caller's AbortSignal fired;
 * - protocol: the server answered something this client cannot use.
 */
export type FailureKind = 'connect' | 'dropped' | 'status' | 'timeout' | 'aborted' | 'protocol';

export interface ClientErrorInit {
  readonly server: string;
  readonly kind: FailureKind;
  readonly code?: Code;
  readonly httpStatus?: number;
  readonly grpcCode?: number;
  readonly cause?: unknown;
}

export class ClientError extends HoardError {
  readonly server: string;
  readonly kind: FailureKind;
  readonly httpStatus: number | undefined;
  readonly grpcCode: number | undefined;
  constructor(message: string, init: ClientErrorInit) {
    super(init.code ?? defaultCode(init.kind), message, { cause: init.cause });
    this.name = 'ClientError';
    this.server = init.server;
    this.kind = init.kind;
    this.httpStatus = init.httpStatus;
    this.grpcCode = init.grpcCode;
  }
}

function defaultCode(kind: FailureKind): Code {
  if (kind === 'aborted') return ErrorCode.Aborted;
  if (kind === 'protocol') return ErrorCode.Internal;
  return ErrorCode.Unavailable;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
const DROPPED_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ECONNABORTED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errnoCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && (CONNECT_CODES.has(code) || DROPPED_CODES.has(code) || TIMEOUT_CODES.has(code)))
      return code;
  }
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Turns a socket-level failure into a ClientError; HoardErrors (digest mismatch...) pass through. */
export function networkError(err: unknown, server: string, signal?: AbortSignal): HoardError {
  if (err instanceof HoardError) return err;
  if (signal?.aborted)
    return new ClientError(`request to ${server} was aborted`, { server, kind: 'aborted', cause: err });
  const code = errnoCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code && CONNECT_CODES.has(code)) {
    return new ClientError(
      `cannot connect to ${server}: ${code === 'ECONNREFUSED' ? 'connection refused' : detail} (${code})`,
      { server, kind: 'connect', cause: err },
    );
  }
  if (code && TIMEOUT_CODES.has(code)) {
    return new ClientError(`${server} made no progress within the idle timeout (${code})`, {
      server,
      kind: 'timeout',
      cause: err,
    });
  }
  if ((code && DROPPED_CODES.has(code)) || /other side closed|socket hang up/i.test(detail)) {
    return new ClientError(`connection to ${server} was dropped: ${detail}${code ? ` (${code})` : ''}`, {
      server,
      kind: 'dropped',
      cause: err,
    });
  }
  if (err instanceof Error && (err.name === 'AbortError' || code === 'ABORT_ERR')) {
    return new ClientError(`request to ${server} was aborted`, { server, kind: 'aborted', cause: err });
  }
  return new ClientError(`request to ${server} failed: ${detail}`, {
    server,
    kind: 'protocol',
    code: ErrorCode.Internal,
    cause: err,
  });
}

/** OpenSSL's words for a TLS alert the peer sent ("tlsv13 alert certificate required"), found in `text`. */
const TLS_ALERT = /\b(?:tlsv1\d?|sslv3) alert [a-z ]*[a-z]/i;

export function tlsAlertIn(text: string): string | undefined {
  return TLS_ALERT.exec(text)?.[0].toLowerCase();
}

/**
 * The server refused the TLS session with `alert`: an mTLS server without the client
 * certificate it requires, or with one it does not trust. Unauthenticated, and kind
 * 'connect', so no retry repeats it (the same certificate gets the same answer).
 */
export function tlsRefusal(server: string, alert: string, cause: unknown): ClientError {
  const why = /certificate required/.test(alert)
    ? 'it requires a client certificate, and none was sent'
    : /certificate|unknown ca|access denied/.test(alert)
      ? 'it did not accept the client certificate'
      : 'it ended the TLS handshake';
  return new ClientError(`authentication failed: ${server} refused the TLS connection: ${why} (${alert})`, {
    server,
    kind: 'connect',
    code: ErrorCode.Unauthenticated,
    cause,
  });
}
