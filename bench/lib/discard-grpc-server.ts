// hoard's gRPC server with a store that reads every upload and keeps nothing: no hashing,
// no disk. Run by bench/grpc.ts beside the real server, its ByteStream Write rate is the
// ceiling the transport, the protocol handling and the generator leave on this machine;
// the real server's rate is that ceiling less what verifying and storing costs.
// Usage: node bench/lib/discard-grpc-server.ts <port>; prints "listening <host:port>".
import { startReapiServer } from '../../src/frontends/reapi/reapi-server.ts';
import type { Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, PutOutcome } from '../../src/storage/store.ts';

class DiscardStore extends MemoryStore {
  override async put(_key: Key, body: Body): Promise<PutOutcome> {
    if (!(body instanceof Uint8Array)) for await (const chunk of body) void chunk;
    return 'created';
  }
}

const port = Number(process.argv[2] ?? 0);
const server = await startReapiServer({ store: new DiscardStore(), address: `127.0.0.1:${port}` });
process.stdout.write(`listening ${server.address}\n`);
process.once('SIGTERM', () => void server.shutdown(1000).then(() => process.exit(0)));
