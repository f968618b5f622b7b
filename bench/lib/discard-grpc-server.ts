// hoard's gRPC server with a store that reads every upload and keeps nothing: no disk.
// Run by bench/grpc.ts beside the real server. Without `verify` nothing is hashed either,
// and its ByteStream Write rate is the ceiling the transport, the protocol handling and the
// generator leave on this machine. With `verify` each upload is checked against its digest
// by the store's own receive path (sha256 on the event loop, as the disk store does it),
// so its rate is the ceiling once verification is paid for.
// Usage: node bench/lib/discard-grpc-server.ts <port> [verify]; prints "listening <host:port>".
import { receive } from '../../src/core/receive.ts';
import { startReapiServer } from '../../src/frontends/reapi/reapi-server.ts';
import type { Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, PutOptions, PutOutcome } from '../../src/storage/store.ts';

class DiscardStore extends MemoryStore {
  readonly #verify: boolean;

  constructor(verify: boolean) {
    super();
    this.#verify = verify;
  }

  override async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    if (this.#verify)
      await receive(body, { size: options.size, hash: key.keyspace === 'cas' ? key.id : undefined }, () => undefined);
    else if (!(body instanceof Uint8Array)) for await (const chunk of body) void chunk;
    return 'created';
  }
}

const port = Number(process.argv[2] ?? 0);
const server = await startReapiServer({
  store: new DiscardStore(process.argv[3] === 'verify'),
  address: `127.0.0.1:${port}`,
});
process.stdout.write(`listening ${server.address}\n`);
process.once('SIGTERM', () => void server.shutdown(1000).then(() => process.exit(0)));
