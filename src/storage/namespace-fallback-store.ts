// Per-namespace read fallback (`--namespace-fallback pr-*=main`): a read of a key in a
// namespace a rule names that misses there tries the rule's namespaces in order, and the
// first hit answers. So a pull request's builds start from main's cache without ever
// writing into it: puts and deletes go to the key's own namespace only.
//
// It wraps the whole store stack on the store thread, so request threads (which reach it
// through src/workers/) and rule 6's completeness check (which asks `has` with the AC
// entry's namespace) see the same fallback. createStore wraps only when there are rules.
import type { Key } from '../core/keys.ts';
import { ruleFor } from '../core/namespace-pattern.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from './store.ts';

/** One rule: a read missing in a namespace `pattern` names tries `fallback`, in order. */
export interface FallbackRule {
  readonly pattern: string;
  readonly fallback: readonly string[];
}

const DIGEST_BYTES = 32;

export class NamespaceFallbackStore implements Store {
  readonly #inner: Store;
  readonly #rules: readonly FallbackRule[];
  /**
   * Packed default-namespace digests: the inner store's when the default namespace has no
   * fallback (as fast as without this wrapper), else its answer completed through `has`.
   * Absent when the inner store has none.
   */
  readonly hasDigests?: (digests: Uint8Array, sizes?: ArrayLike<number>) => Promise<Uint8Array>;

  constructor(inner: Store, rules: readonly FallbackRule[]) {
    this.#inner = inner;
    this.#rules = rules;
    const own = inner.hasDigests?.bind(inner);
    if (own !== undefined)
      this.hasDigests = this.#chain('') === undefined ? own : (digests, sizes) => this.#hasDigests(own, digests, sizes);
  }

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    const present = await this.#inner.has(keys, sizes);
    let missing: number[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      if (!present[i] && this.#chain(keys[i]!.namespace) !== undefined) (missing ??= []).push(i);
    }
    if (missing !== undefined) await this.#fallBack(keys, sizes, present, missing);
    return present;
  }

  stat(key: Key): Promise<number | undefined> {
    return this.#firstHit(key, (k) => this.#inner.stat(k));
  }

  get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    return this.#firstHit(key, (k) => this.#inner.get(k, options));
  }

  getBytes(key: Key, options?: { readonly signal?: AbortSignal }): Promise<Buffer | undefined> {
    return this.#firstHit(key, (k) => this.#inner.getBytes(k, options));
  }

  put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    return this.#inner.put(key, body, options);
  }

  delete(key: Key): Promise<boolean> {
    return this.#inner.delete(key);
  }

  usage(): StoreUsage {
    return this.#inner.usage();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** The namespaces a read missing in `namespace` tries next, or undefined when none. */
  #chain(namespace: string): readonly string[] | undefined {
    return ruleFor(this.#rules, namespace)?.fallback;
  }

  /** `read` of `key`, then of the same key in each fallback namespace, until one hits. */
  async #firstHit<T>(key: Key, read: (key: Key) => Promise<T | undefined>): Promise<T | undefined> {
    const own = await read(key);
    if (own !== undefined) return own;
    const chain = this.#chain(key.namespace);
    if (chain === undefined) return undefined;
    for (const namespace of chain) {
      if (namespace === key.namespace) continue;
      const hit = await read(inNamespace(key, namespace));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /**
   * Marks in `present` the keys at `missing` found in their fallback namespaces: one `has`
   * per fallback step, each asking only for the keys still missing.
   */
  async #fallBack(
    keys: readonly Key[],
    sizes: ArrayLike<number> | undefined,
    present: boolean[],
    missing: number[],
  ): Promise<void> {
    for (let step = 0; missing.length > 0; step++) {
      const at: number[] = [];
      const asked: Key[] = [];
      const askedSizes: number[] | undefined = sizes === undefined ? undefined : [];
      const later: number[] = [];
      for (const i of missing) {
        const key = keys[i]!;
        const chain = this.#chain(key.namespace)!;
        if (step >= chain.length) continue;
        later.push(i);
        if (chain[step] === key.namespace) continue;
        at.push(i);
        asked.push(inNamespace(key, chain[step]!));
        askedSizes?.push(sizes![i]!);
      }
      if (asked.length > 0) {
        const found = await this.#inner.has(asked, askedSizes);
        for (let j = 0; j < at.length; j++) if (found[j]) present[at[j]!] = true;
      }
      missing = later.filter((i) => !present[i]);
    }
  }

  async #hasDigests(
    own: NonNullable<Store['hasDigests']>,
    digests: Uint8Array,
    sizes?: ArrayLike<number>,
  ): Promise<Uint8Array> {
    const answer = await own(digests, sizes);
    const keys: Key[] = [];
    const at: number[] = [];
    for (let i = 0; i < answer.length; i++) {
      if (answer[i] === 1) continue;
      const digest = Buffer.from(digests.buffer, digests.byteOffset + i * DIGEST_BYTES, DIGEST_BYTES);
      keys.push({ keyspace: 'cas', namespace: '', id: digest.toString('hex'), digest });
      at.push(i);
    }
    if (keys.length === 0) return answer;
    const present = new Array<boolean>(keys.length).fill(false);
    const keySizes = sizes === undefined ? undefined : at.map((i) => sizes[i]!);
    await this.#fallBack(
      keys,
      keySizes,
      present,
      keys.map((_, j) => j),
    );
    for (let j = 0; j < at.length; j++) if (present[j]) answer[at[j]!] = 1;
    return answer;
  }
}

/** `key` in another namespace (a digest key's bytes kept: the default namespace looks them up). */
function inNamespace(key: Key, namespace: string): Key {
  return key.digest === undefined
    ? { keyspace: key.keyspace, namespace, id: key.id }
    : { keyspace: key.keyspace, namespace, id: key.id, digest: key.digest };
}

/** `store` with `rules`' read fallback, or `store` itself when there are none (no cost). */
export function withNamespaceFallback(store: Store, rules: readonly FallbackRule[]): Store {
  return rules.length === 0 ? store : new NamespaceFallbackStore(store, rules);
}
