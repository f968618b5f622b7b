// A STAND-IN Bazel HTTP cache for client and `hoard check` tests: in memory, node:http, on
// 127.0.0.1:0. With no faults it behaves like a correct cache (verifies uploads, publishes
// only whole blobs, answers AC hits only when every referenced blob is present, serves the
// empty blob, honours Range). Each fault switches on one real-world bug so tests can show
// that `hoard check` reports exactly that failure:
//  - publishPartial: an upload cut mid-body is stored as if complete (rule 1, docs/CORRECTNESS.md#origin-unflushed-upload; whole
//    uploads are still hash-checked, so only this one bug shows);
//  - acWithoutBlobs: AC hits are answered even when referenced blobs are missing (rule 6);
//  - closeEveryResponse: `Connection: close` on every response (the server side of rule 4's released-then-closed story);
//  - failSomeUploads: every tenth CAS upload is answered 500 after its whole body arrived
//    (rule 1's unflushed-upload story: Kura failed 24 of 253 parallel uploads with INTERNAL; a client that
//    retries hides it, which is why `hoard check` uploads with retries off).
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { actionResultRefs } from '../../src/core/action-result.ts';
import { emptyHash, hashBytes } from '../../src/core/digest.ts';

export interface StandInFaults {
  publishPartial?: boolean;
  acWithoutBlobs?: boolean;
  closeEveryResponse?: boolean;
  failSomeUploads?: boolean;
}

export interface StandInServer {
  readonly url: string;
  readonly port: number;
  readonly cas: Map<string, Buffer>;
  readonly ac: Map<string, Buffer>;
  /** Requests seen, as "METHOD kind" → count (kind = cas | ac | other). */
  readonly requests: Map<string, number>;
  faults: StandInFaults;
  /** Called for each request before it is handled; return true to say "handled" (e.g. destroyed the socket). */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  close(): Promise<void>;
}

export async function startStandInCache(faults: StandInFaults = {}, port = 0): Promise<StandInServer> {
  const cas = new Map<string, Buffer>();
  const ac = new Map<string, Buffer>();
  const requests = new Map<string, number>();
  let casPuts = 0;
  const state: StandInServer = {
    url: '',
    port: 0,
    cas,
    ac,
    requests,
    faults,
    close: async () => {},
  };

  const server = http.createServer((req, res) => {
    const m = /\/(cas|ac)\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const kind = m?.[1] ?? 'other';
    const key = `${req.method} ${kind}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    if (state.faults.closeEveryResponse) res.setHeader('connection', 'close');
    if (state.intercept?.(req, res)) return;
    if (!m) return reply(res, 400, 'bad path');
    const hash = m[2] as string;
    const store = kind === 'cas' ? cas : ac;
    switch (req.method) {
      case 'PUT':
        return receive(req, res, kind, hash, store);
      case 'GET':
      case 'HEAD': {
        let body = store.get(hash) ?? (kind === 'cas' && hash === emptyHash() ? Buffer.alloc(0) : undefined);
        if (body && kind === 'ac' && !state.faults.acWithoutBlobs && !complete(body)) body = undefined;
        if (!body) return reply(res, 404, 'not found');
        const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        const from = range ? Number(range[1]) : 0;
        res.writeHead(range ? 206 : 200, { 'content-length': body.length - from });
        return res.end(req.method === 'HEAD' ? undefined : body.subarray(from));
      }
      case 'DELETE':
        return reply(res, store.delete(hash) ? 200 : 404, '');
      default:
        return reply(res, 405, 'method not allowed');
    }
  });

  function complete(acBody: Buffer): boolean {
    try {
      const refs = actionResultRefs(acBody);
      return [...refs.files, ...refs.trees].every((d) => d.sizeBytes === 0 || cas.has(d.hash));
    } catch {
      return false;
    }
  }

  function receive(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    kind: string,
    hash: string,
    store: Map<string, Buffer>,
  ): void {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('close', () => {
      // BROKEN on purpose when publishPartial: whatever arrived is published, cut or not.
      if (!req.complete && state.faults.publishPartial) store.set(hash, Buffer.concat(parts));
    });
    req.on('end', () => {
      if (kind === 'cas' && state.faults.failSomeUploads && casPuts++ % 10 === 3)
        return reply(res, 500, 'failed to persist CAS blob');
      const body = Buffer.concat(parts);
      if (kind === 'cas' && hashBytes(body) !== hash) {
        return reply(res, 400, `body does not hash to ${hash}`);
      }
      store.set(hash, body);
      reply(res, 200, '');
    });
  }

  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address() as AddressInfo;
  Object.assign(state, {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
  return state;
}

function reply(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
