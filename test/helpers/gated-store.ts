// A MemoryStore whose puts wait, without reading a byte of their body, until the test opens
// the gate: a slow disk or a full commit queue, for back-pressure tests.
import type { Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, PutOptions, PutOutcome } from '../../src/storage/store.ts';

export class GatedStore extends MemoryStore {
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve));
  putsWaiting = 0;

  open(): void {
    this.#open();
  }

  override async put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    this.putsWaiting++;
    await this.#gate;
    return super.put(key, body, options);
  }
}
