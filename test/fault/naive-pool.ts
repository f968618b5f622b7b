// TEST-ONLY: a deliberately naive HTTP/1.1 connection pool that reproduces rule 4's released-then-closed story (docs/CORRECTNESS.md#origin-released-then-closed). When a
// response ends it RELEASES the connection first (handing it straight to a waiting request,
// which writes on it) and only then honours `Connection: close` by destroying it, exactly
// the order of Bazel's `succeedAndReset` (release in the promise, close in `finally`). Idle
// connections are health-checked on acquire (like Netty's pool), so the bug is the race of
// the hand-off, not a missing check. Never use this outside the test that shows it fails.
import net from 'node:net';

export interface NaiveResponse {
  readonly status: number;
  readonly body: Buffer;
}

export class NaivePool {
  readonly #host: string;
  readonly #port: number;
  readonly #max: number;
  readonly #idle: net.Socket[] = [];
  readonly #waiters: Array<(s: net.Socket) => void> = [];
  #open = 0;

  constructor(host: string, port: number, max: number) {
    this.#host = host;
    this.#port = port;
    this.#max = max;
  }

  async get(path: string): Promise<NaiveResponse> {
    const socket = await this.#acquire();
    return new Promise<NaiveResponse>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const fail = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const onClose = (): void => fail(new Error('connection closed before the response'));
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        cleanup();
        const close = /connection:\s*close/i.test(head);
        resolve({ status: Number(head.split(' ')[1]), body: buf.subarray(end + 4, end + 4 + length) });
        this.#release(socket); // BUG on purpose: released while it may still be closed...
        if (close) socket.destroy(); // ...and closed after another request took it.
      };
      const cleanup = (): void => {
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.off('error', fail);
      };
      socket.on('data', onData);
      socket.on('close', onClose);
      socket.on('error', fail);
      if (socket.destroyed) return fail(new Error('acquired a destroyed connection'));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.#host}:${this.#port}\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  close(): void {
    for (const s of this.#idle) s.destroy();
  }

  async #acquire(): Promise<net.Socket> {
    while (this.#idle.length > 0) {
      const s = this.#idle.pop() as net.Socket;
      if (!s.destroyed) return s; // health check on acquire from the idle list
    }
    if (this.#open < this.#max) return this.#connect();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #connect(): Promise<net.Socket> {
    this.#open++;
    const s = net.connect(this.#port, this.#host);
    s.on('error', () => {});
    s.on('close', () => {
      this.#open--;
      // A waiter must not starve when connections die: open a fresh one for it.
      const next = this.#waiters.shift();
      if (next) void this.#connect().then(next, () => this.#waiters.unshift(next));
    });
    return new Promise<net.Socket>((resolve, reject) => {
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  #release(s: net.Socket): void {
    const next = this.#waiters.shift();
    if (next)
      next(s); // hand-off without a check: the waiter will write on it
    else this.#idle.push(s);
  }
}
