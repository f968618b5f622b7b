// A memory store that fails every call with `fault` while it is set, for the tests of how
// each protocol words a store fault (its status table) and counts it by its real cause. A
// failing put still reads its body first, as a real store would before its commit fails.
import { Readable } from 'node:stream';
import { HoardError, type ErrorCode } from '../../src/core/errors.ts';
import type { Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions } from '../../src/storage/store.ts';

export class FaultyStore extends MemoryStore {
  fault: ErrorCode | undefined;

  #check(): void {
    if (this.fault !== undefined) throw new HoardError(this.fault, `store says ${this.fault}`);
  }

  override async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    this.#check();
    return super.has(keys, sizes);
  }

  override async stat(key: Key): Promise<number | undefined> {
    this.#check();
    return super.stat(key);
  }

  override async get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    this.#check();
    return super.get(key, options);
  }

  override async put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    if (this.fault !== undefined) {
      for await (const _ of Readable.from(body as AsyncIterable<Uint8Array>)) void _;
      this.#check();
    }
    return super.put(key, body, options);
  }
}
