// Header blocks as nghttp2 encodes them: a node:http2 client sends requests to a raw TCP
// server that speaks just enough HTTP/2 (its SETTINGS, acknowledgements) to collect each
// request's header block, in order. With `headerTableSize`, the server's SETTINGS limits the
// client's dynamic table, so its encoder starts with a size update and evicts sooner.
import http2, { type OutgoingHttpHeaders } from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import {
  CLIENT_PREFACE,
  Flag,
  FRAME_HEADER_BYTES,
  frameHeader,
  FrameType,
  framesIn,
  headersFragment,
} from '../../src/frontends/reapi/h2-frames.ts';

export async function captureHeaderBlocks(
  requests: readonly OutgoingHttpHeaders[],
  { headerTableSize }: { headerTableSize?: number } = {},
): Promise<Buffer[]> {
  const blocks: Buffer[] = [];
  let complete: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (complete = resolve));
  const server = net.createServer((socket) => {
    const settings = headerTableSize === undefined ? {} : { headerTableSize };
    const payload = http2.getPackedSettings(settings);
    socket.write(Buffer.concat([frameHeader(payload.length, FrameType.SETTINGS, 0, 0), payload]));
    let buf = Buffer.alloc(0);
    let skipPreface = true;
    let open: Buffer[] | undefined;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (skipPreface) {
        if (buf.length < CLIENT_PREFACE.length) return;
        buf = buf.subarray(CLIENT_PREFACE.length);
        skipPreface = false;
      }
      let used = 0;
      for (const { header: h, payload: p, at } of framesIn(buf)) {
        used = at + FRAME_HEADER_BYTES + h.length;
        if (h.type === FrameType.SETTINGS && !(h.flags & Flag.ACK))
          socket.write(frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0));
        if (h.type === FrameType.HEADERS) open = [headersFragment(p, h.flags)!];
        else if (h.type === FrameType.CONTINUATION) open?.push(p);
        else continue;
        if (h.flags & Flag.END_HEADERS) {
          blocks.push(Buffer.concat(open!));
          if (blocks.length === requests.length) complete();
        }
      }
      buf = buf.subarray(used);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    settings: { enablePush: false },
  });
  client.on('error', () => undefined);
  try {
    for (const headers of requests) client.request(headers, { endStream: true }).on('error', () => undefined);
    await all;
  } finally {
    client.destroy();
    server.close();
  }
  return blocks;
}
