// One HTTP/1.1 request written byte by byte on its own socket (TCP or TLS), for the checks
// that send what no HTTP library will: a body that ends before its Content-Length, a huge
// declared size whose body never comes, `Expect: 100-continue` with a wait for the 100.
// It reads answers by their head only (status and headers) and a Content-Length body; a
// check needs no more. A hostile peer cannot hold it: connecting, writing and reading each
// have a deadline, and it keeps at most MAX_BUFFERED bytes of what the peer sends. Never
// pooled: the caller destroys it.
import net from 'node:net';
import tls from 'node:tls';

/** What the checks need of an answer is small: a peer sending more is cut off here. */
const MAX_BUFFERED = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
const WRITE_TIMEOUT_MS = 10_000;

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export class RawExchange {
  readonly #socket: net.Socket;
  readonly #host: string;
  readonly #headers: Readonly<Record<string, string>>;
  #buf = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket, host: string, headers: Readonly<Record<string, string>>) {
    this.#socket = socket;
    this.#host = host;
    this.#headers = headers;
    socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      if (this.#buf.length > MAX_BUFFERED) socket.destroy();
      this.#wake?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  /** Connects to `url`'s origin; `headers` (the Authorization among them) go on every request. */
  static async open(
    url: URL,
    material: { ca?: Buffer; cert?: Buffer; key?: Buffer },
    headers: Readonly<Record<string, string>>,
  ): Promise<RawExchange> {
    const secure = url.protocol === 'https:';
    const port = Number(url.port || (secure ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = secure
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          ...material,
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
      }, CONNECT_TIMEOUT_MS);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return new RawExchange(socket, url.host, headers);
  }

  /** Writes a request head; `path` is absolute (HttpProbe.path). */
  writeHead(method: string, path: string, headers: Readonly<Record<string, string | number>>): Promise<void> {
    const all = { host: this.#host, ...this.#headers, ...headers };
    const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)];
    return this.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  /** Resolves once `data` is handed to the kernel; rejects when the peer stops reading for WRITE_TIMEOUT_MS. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#socket.destroy();
        reject(new Error(`the server read none of the last ${data.length} bytes within ${WRITE_TIMEOUT_MS / 1000} s`));
      }, WRITE_TIMEOUT_MS);
      this.#socket.write(data, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Half-closes: the server sees the end of the request stream (a FIN), and can still answer. */
  end(): void {
    this.#socket.end();
  }

  /**
   * The next answer, interim (1xx) ones included; undefined when the server closed the
   * connection or said nothing within `timeoutMs`. Throws when what came is not HTTP/1.x.
   */
  async read(timeoutMs: number): Promise<RawAnswer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.#parse();
      if (answer) return answer;
      const left = deadline - Date.now();
      if (this.#closed || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** The next final (non-1xx) answer; see read(). */
  async readFinal(timeoutMs: number): Promise<RawAnswer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.read(Math.max(0, deadline - Date.now()));
      if (!a || a.status >= 200) return a;
    }
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #parse(): RawAnswer | undefined {
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#buf.length >= 5 && !this.#buf.subarray(0, 5).equals(HTTP)) throw notHttp(this.#buf);
      return undefined;
    }
    const [start = '', ...lines] = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
    const code = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(start)?.[1];
    if (code === undefined) throw notHttp(this.#buf);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(code);
    const declared = Number(headers['content-length'] ?? 0);
    const length =
      status < 200 || status === 204 || status === 304 || !Number.isSafeInteger(declared) || declared < 0
        ? 0
        : declared;
    // Wait for the body, unless the server closed: then what arrived is all there is.
    if (this.#buf.length < end + 4 + length && !this.#closed) return undefined;
    const body = Buffer.from(this.#buf.subarray(end + 4, end + 4 + length));
    this.#buf = this.#buf.subarray(Math.min(this.#buf.length, end + 4 + length));
    return { status, headers, body };
  }
}

const HTTP = Buffer.from('HTTP/');

function notHttp(buf: Buffer): Error {
  const start = buf
    .subarray(0, 40)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '.');
  return new Error(`the server's answer is not HTTP/1.1: ${JSON.stringify(start)}`);
}
