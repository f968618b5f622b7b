// A raw TCP HTTP/1.1 client for tests that must control bytes and timing exactly: send
// headers and part of a body, stop, disconnect, or read a response and then observe
// whether and when the server closes the connection (rule 4).
import { connect, type Socket } from 'node:net';

export interface ParsedResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export class RawConnection {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  /** Resolves when the server ended or reset the connection. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    void this.closed.then(() => this.#wake());
  }

  static async open(url: string): Promise<RawConnection> {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Sends a request head; the body (if any) is written separately. */
  writeHead(method: string, path: string, headers: Record<string, string | number> = {}): Promise<void> {
    const lines = [
      `${method} ${path} HTTP/1.1`,
      'host: test',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    return this.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  /** Reads one response with a Content-Length body (HEAD: `head` = true). */
  async readResponse(head = false): Promise<ParsedResponse> {
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        const [statusLine, ...lines] = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const length = head ? 0 : Number(headers['content-length'] ?? 0);
        if (this.#buf.length >= end + 4 + length) {
          const body = Buffer.from(this.#buf.subarray(end + 4, end + 4 + length));
          this.#buf = this.#buf.subarray(end + 4 + length);
          return { status: Number(statusLine!.split(' ')[1]), headers, body };
        }
      }
      if (this.isClosed)
        throw new Error(`connection closed before a whole response arrived (${this.#buf.length} bytes buffered)`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The next response, or a failure after `ms` (a server waiting for a body it will never get). */
  async readResponseWithin(ms: number): Promise<ParsedResponse> {
    const timer = setTimeout(() => this.destroy(), ms);
    try {
      return await this.readResponse();
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
