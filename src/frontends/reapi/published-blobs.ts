// In-process notice that a CAS blob was just published through this frontend. A ByteStream
// Write whose blob another writer completes mid-stream listens here so it can end at once
// with the full committed size (docs/PROTOCOLS.md §2.6) instead of receiving the rest for nothing.
// Blobs published by other frontends are noticed only when the store says so at the end.
import { keyString, type Key } from '../../core/keys.ts';

export class PublishedBlobs {
  readonly #watchers = new Map<string, Set<() => void>>();

  /** Calls `onPublished` once if `key` is published before the returned disposer runs. */
  watch(key: Key, onPublished: () => void): () => void {
    const id = keyString(key);
    let set = this.#watchers.get(id);
    if (!set) {
      set = new Set();
      this.#watchers.set(id, set);
    }
    set.add(onPublished);
    return () => {
      const s = this.#watchers.get(id);
      if (!s) return;
      s.delete(onPublished);
      if (s.size === 0) this.#watchers.delete(id);
    };
  }

  published(key: Key): void {
    if (this.#watchers.size === 0) return;
    const set = this.#watchers.get(keyString(key));
    if (!set) return;
    this.#watchers.delete(keyString(key));
    for (const fn of set) fn();
  }
}
