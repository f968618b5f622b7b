// A fault-injecting TCP proxy for tests and `hoard check`. It listens on 127.0.0.1 (port 0
// by default) and forwards every connection to one target, injecting the network failures
// behind the rules' origins (docs/CORRECTNESS.md):
//  - cut a connection after N bytes in either direction (an upload broken mid-body);
//  - cut connections idle for T ms, either with a FIN (a restart) or silently, resetting
//    the client only when it next speaks (origin-idle-cut: a NAT or haproxy that forgot the flow);
//  - close right after every HTTP response that claimed keep-alive (origin-released-then-closed);
//  - refuse connections (accept, then reset at once);
//  - delay every chunk.
// The plan can be changed while the proxy runs (setFaults); it applies to new bytes and new
// connections. The proxy never buffers more than one chunk per direction.
import net from 'node:net';
import { once } from 'node:events';
import { HttpFramer } from './http-framer.ts';

export interface FaultPlan {
  /** Cut a connection once this many bytes have passed in `cutDirection`; a function may choose per connection (0-based index), undefined = never. */
  readonly cutAfterBytes?: number | ((connection: number) => number | undefined);
  /** Which bytes count toward cutAfterBytes: client→server ('upstream'), server→client ('downstream'), or both. Default 'either'. */
  readonly cutDirection?: 'upstream' | 'downstream' | 'either';
  /** Cut a connection after this long with no bytes either way. */
  readonly idleCutMs?: number;
  /** 'fin' (default) closes the client side politely; 'silent' leaves it open and resets it when the client next sends. */
  readonly idleCutStyle?: 'fin' | 'silent';
  /** Close the connection right after each complete HTTP/1.1 response. */
  readonly closeAfterResponse?: boolean;
  /** Accept and reset every new connection at once. */
  readonly refuse?: boolean;
  /** Delay each forwarded chunk by this many milliseconds. */
  readonly delayMs?: number;
}

export interface FaultStats {
  connections: number;
  cuts: number;
  idleCuts: number;
  responseCloses: number;
  refused: number;
  bytesUp: number;
  bytesDown: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** The proxy's address with the given scheme, e.g. url('http') → http://127.0.0.1:PORT */
  url(scheme: string): string;
  setFaults(plan: FaultPlan): void;
  readonly stats: Readonly<FaultStats>;
  /** Closes the listener and every open connection. */
  close(): Promise<void>;
}

export interface FaultTarget {
  readonly host: string;
  readonly port: number;
}

export async function startFaultProxy(target: FaultTarget, plan: FaultPlan = {}, listenPort = 0): Promise<FaultProxy> {
  let faults = plan;
  const stats: FaultStats = {
    connections: 0,
    cuts: 0,
    idleCuts: 0,
    responseCloses: 0,
    refused: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
  const open = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const index = stats.connections++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (faults.refuse) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    proxyConnection(client, index);
  });

  function proxyConnection(client: net.Socket, index: number): void {
    const upstream = net.connect(target.port, target.host);
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (!silentlyDead) client.end();
    });

    const limit = typeof faults.cutAfterBytes === 'function' ? faults.cutAfterBytes(index) : faults.cutAfterBytes;
    const direction = faults.cutDirection ?? 'either';
    let counted = 0;
    let silentlyDead = false;
    let closed = false;
    const methods: string[] = [];
    const requestFramer = new HttpFramer('request', methods);
    const responseFramer = new HttpFramer('response', methods);

    const cut = (): void => {
      closed = true;
      stats.cuts++;
      upstream.destroy();
      client.destroy();
    };

    // Forwards `chunk`, honouring the byte limit; returns false once the connection is cut.
    const forward = (chunk: Buffer, to: net.Socket, counts: boolean): boolean => {
      if (closed) return false;
      if (limit !== undefined && counts && counted + chunk.length >= limit) {
        const head = chunk.subarray(0, Math.max(0, limit - counted));
        counted = limit;
        if (head.length) to.write(head);
        // Let the partial bytes leave before cutting, so the peer sees a truncated message.
        setImmediate(cut);
        closed = true;
        return false;
      }
      if (counts) counted += chunk.length;
      const delay = faults.delayMs ?? 0;
      if (delay > 0) setTimeout(() => to.destroyed || to.write(chunk), delay);
      else to.write(chunk);
      return true;
    };

    client.on('data', (chunk: Buffer) => {
      if (silentlyDead) {
        // The flow was forgotten: the client learns only now, by a reset (origin-idle-cut).
        client.resetAndDestroy();
        return;
      }
      stats.bytesUp += chunk.length;
      if (faults.closeAfterResponse) requestFramer.push(chunk);
      if (!forward(chunk, upstream, direction !== 'downstream')) return;
      if (upstream.writableNeedDrain) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });

    upstream.on('data', (chunk: Buffer) => {
      stats.bytesDown += chunk.length;
      if (faults.closeAfterResponse) {
        const ends = responseFramer.push(chunk);
        if (ends.length > 0) {
          const end = ends[0] ?? chunk.length;
          if (!forward(chunk.subarray(0, end), client, direction !== 'upstream')) return;
          closed = true;
          stats.responseCloses++;
          upstream.destroy();
          client.end(); // a FIN after a response that promised keep-alive
          return;
        }
      }
      if (!forward(chunk, client, direction !== 'upstream')) return;
      if (client.writableNeedDrain) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    client.on('end', () => upstream.end());

    if (faults.idleCutMs !== undefined) {
      const style = faults.idleCutStyle ?? 'fin';
      client.setTimeout(faults.idleCutMs, () => {
        if (closed) return;
        stats.idleCuts++;
        closed = true;
        if (style === 'silent') silentlyDead = true;
        upstream.destroy();
        if (style === 'fin') client.end();
        client.setTimeout(0);
      });
    }
  }

  server.listen(listenPort, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;

  return {
    host: '127.0.0.1',
    port: address.port,
    url: (scheme) => `${scheme}://127.0.0.1:${address.port}`,
    setFaults(next) {
      faults = next;
    },
    stats,
    async close() {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closing;
    },
  };
}
