// A TCP relay on 127.0.0.1 in front of a server, for tests that need to see or hold the
// bytes on the wire: it counts what clients send upstream, and can stop reading from the
// server (`stall`), so the server's socket writes stay pending in the kernel and in Node.
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAddress } from '../../src/config/units.ts';

export interface TcpRelay {
  readonly port: number;
  /** Bytes the relay's clients have sent towards the server so far. */
  sentUpstream(): number;
  /** Resolves with sentUpstream() once it stopped moving for `quietMs`. */
  upstreamSettled(quietMs?: number): Promise<number>;
  /** Stops reading from the server side (the client side keeps flowing). */
  stall(): void;
  release(): void;
  close(): void;
}

export async function startTcpRelay(target: string): Promise<TcpRelay> {
  const { host, port } = parseAddress(target);
  const upstreams = new Set<net.Socket>();
  let stalled = false;
  let sent = 0;
  const server = net.createServer((client) => {
    const up = net.connect(port, host);
    upstreams.add(up);
    if (stalled) up.pause();
    client.on('data', (chunk: Buffer) => (sent += chunk.length));
    client.pipe(up);
    // By hand, not pipe(): pipe resumes its source whenever the destination drains.
    up.on('data', (chunk: Buffer) => {
      if (client.write(chunk)) return;
      up.pause();
      client.once('drain', () => {
        if (!stalled) up.resume();
      });
    });
    const drop = () => {
      client.destroy();
      up.destroy();
      upstreams.delete(up);
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sentUpstream: () => sent,
    async upstreamSettled(quietMs = 300) {
      let last = -1;
      while (sent !== last) {
        last = sent;
        await sleep(quietMs);
      }
      return sent;
    },
    stall() {
      stalled = true;
      for (const up of upstreams) up.pause();
    },
    release() {
      stalled = false;
      for (const up of upstreams) up.resume();
    },
    close() {
      for (const up of upstreams) up.destroy();
      server.close();
    },
  };
}
