// Why a TLS connection was refused, kept for the HTTP transport. An mTLS server that wants a
// client certificate (and got none, or one it does not trust) ends the session with a TLS
// alert right after the handshake. undici loses it: the socket's error ("tlsv13 alert
// certificate required") is replaced, one event later, by "other side closed", which reads
// as a dropped connection, and a dropped connection is retried (6 attempts, seconds, the
// same refusal each time). This connector remembers each socket's alert by its local port
// (what undici's SocketError reports), so the client turns that failure into one clear,
// final refusal (client-error.ts tlsRefusal).
import type { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import { tlsAlertIn } from './client-error.ts';

/** How long an alert is kept after its socket closed, for the request that failed on it to ask. */
const KEEP_MS = 5000;

export class TlsAlerts {
  readonly #byPort = new Map<number, string>();

  /** undici's connector with `options`, watching every socket for an alert. */
  connector(options: buildConnector.BuildOptions): buildConnector.connector {
    const connect = buildConnector(options);
    return (opts, callback) =>
      connect(opts, (err, socket) => {
        const port = socket?.localPort;
        if (socket && port !== undefined && (socket as Partial<TLSSocket>).encrypted) {
          // Before undici's own listener: by the time the request fails, the alert is here.
          socket.prependListener('error', (e: Error) => {
            const alert = tlsAlertIn(e.message);
            if (alert !== undefined) this.#byPort.set(port, alert);
          });
          socket.once('close', () => {
            if (this.#byPort.has(port)) setTimeout(() => this.#byPort.delete(port), KEEP_MS).unref();
          });
        }
        if (err) callback(err, null);
        else callback(null, socket!);
      });
  }

  /** The alert that ended the connection `err` (an undici SocketError) failed on, if one did. */
  take(err: unknown): string | undefined {
    const port = (err as { socket?: { localPort?: number } } | undefined)?.socket?.localPort;
    if (port === undefined) return undefined;
    const alert = this.#byPort.get(port);
    this.#byPort.delete(port);
    return alert;
  }
}
