// The store a test made, reached the way a request thread reaches the store thread's
// (src/workers/): through a RemoteStore over a MessageChannel whose other end serves it.
// Both ends run on the test's thread, but every call, body and entry crosses as messages.
// Used when the suite runs with HOARD_WORKERS > 1, so frontend tests over a failing or
// gated store also cover the channel.
import { MessageChannel } from 'node:worker_threads';
import type { Store } from '../../src/storage/store.ts';
import { RemoteStore } from '../../src/workers/remote-store.ts';
import { serveStore } from '../../src/workers/store-host.ts';

/** `owns`: closing the remote closes `store` too (by default it stays the test's to close). */
export function storeAcrossThreads(store: Store, options: { owns?: boolean } = {}): Store {
  const { port1, port2 } = new MessageChannel();
  const host = serveStore(store, port1);
  const remote = new RemoteStore(port2, store.usage());
  return Object.assign(remote, {
    close: async () => {
      host.close();
      if (options.owns) await store.close();
    },
  });
}

/** `store` as the suite's mode reaches it: directly, or across the channel (HOARD_WORKERS > 1). */
export function storeForMode(store: Store): Store {
  return Number(process.env['HOARD_WORKERS'] ?? '1') > 1 ? storeAcrossThreads(store) : store;
}
