// Finds where HTTP/1.1 messages end in a byte stream, without buffering bodies. The fault
// proxy uses it to "close after every response" at exactly the response boundary
// (docs/CORRECTNESS.md#origin-released-then-closed: the peer closes right after a response the
// client believes is keep-alive).
//
// Contract: push() consumes one chunk and returns the offsets (within that chunk, exclusive
// end) at which a message completed. Requests are framed by Content-Length (clients of a
// build cache never send chunked bodies); responses by Content-Length, chunked encoding,
// or no body (HEAD, 1xx, 204, 304). A response without either header is delimited by
// connection close, so it never yields a boundary.

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;

type BodyState =
  | { kind: 'head' }
  | { kind: 'fixed'; left: number }
  | { kind: 'chunk-size'; line: string }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'chunk-crlf'; left: number }
  | { kind: 'trailers'; line: string }
  | { kind: 'until-close' };

export class HttpFramer {
  readonly #side: 'request' | 'response';
  /** For responses: the methods of the requests they answer, oldest first (HEAD has no body). */
  readonly #methods: string[];
  #state: BodyState = { kind: 'head' };
  #head: Buffer = Buffer.alloc(0);

  constructor(side: 'request' | 'response', methods: string[] = []) {
    this.#side = side;
    this.#methods = methods;
  }

  push(chunk: Buffer): number[] {
    const ends: number[] = [];
    let i = 0;
    while (i < chunk.length) {
      const s = this.#state;
      if (s.kind === 'until-close') return ends;
      if (s.kind === 'head') {
        const joined = this.#head.length ? Buffer.concat([this.#head, chunk.subarray(i)]) : chunk.subarray(i);
        const at = joined.indexOf(CRLFCRLF);
        if (at < 0) {
          this.#head = Buffer.from(joined.subarray(Math.max(0, joined.length - MAX_HEAD_BYTES)));
          return ends;
        }
        const consumed = at + 4 - this.#head.length;
        this.#head = Buffer.alloc(0);
        i += consumed;
        this.#state = this.#bodyStateFor(joined.subarray(0, at).toString('latin1'));
        if (this.#state.kind === 'head') continue; // an interim 1xx response: the answer follows
        if (this.#state.kind === 'fixed' && this.#state.left === 0) {
          this.#state = { kind: 'head' };
          ends.push(i);
        }
        continue;
      }
      if (s.kind === 'fixed' || s.kind === 'chunk-data' || s.kind === 'chunk-crlf') {
        const take = Math.min(s.left, chunk.length - i);
        s.left -= take;
        i += take;
        if (s.left > 0) continue;
        if (s.kind === 'fixed') {
          this.#state = { kind: 'head' };
          ends.push(i);
        } else if (s.kind === 'chunk-data') {
          this.#state = { kind: 'chunk-crlf', left: 2 };
        } else {
          this.#state = { kind: 'chunk-size', line: '' };
        }
        continue;
      }
      // chunk-size or trailers: line oriented.
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl + 1;
      s.line += chunk.subarray(i, end).toString('latin1');
      i = end;
      if (nl < 0) continue;
      const line = s.line.trim();
      if (s.kind === 'chunk-size') {
        const size = parseInt(line.split(';')[0] ?? '', 16);
        this.#state = size > 0 ? { kind: 'chunk-data', left: size } : { kind: 'trailers', line: '' };
      } else if (line === '') {
        this.#state = { kind: 'head' };
        ends.push(i);
      } else {
        this.#state = { kind: 'trailers', line: '' };
      }
    }
    return ends;
  }

  #bodyStateFor(head: string): BodyState {
    const lines = head.split('\r\n');
    const start = lines[0] ?? '';
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
    }
    if (this.#side === 'request') {
      this.#methods.push(start.split(' ')[0] ?? '');
      return { kind: 'fixed', left: Number(headers.get('content-length') ?? 0) };
    }
    const status = Number(start.split(' ')[1] ?? 0);
    if (status >= 100 && status < 200) return { kind: 'head' };
    const method = this.#methods.shift();
    if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'fixed', left: 0 };
    if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked'))
      return { kind: 'chunk-size', line: '' };
    const len = headers.get('content-length');
    return len === undefined ? { kind: 'until-close' } : { kind: 'fixed', left: Number(len) };
  }
}
