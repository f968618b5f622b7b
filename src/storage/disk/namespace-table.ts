// The disk store's namespaces: each live namespace gets a small integer id that the index
// keeps per entry (entry-index.ts), and its bytes, entries and quota are counted here by id.
// The default namespace '' is always id 0; another namespace's id is freed when its last
// entry goes, so ids stay as few as the namespaces that hold something (PR namespaces come
// and go). Bytes are the entries' sizes, as quotas count them (not their disk footprint).
// Not safe across awaits: the index changes it synchronously, on the writer or at open.
import { ruleFor } from '../../core/namespace-pattern.ts';
import type { NamespaceUsage } from '../store.ts';

/** `--namespace-quota`'s rules: namespaces `pattern` names may hold at most `bytes` each. */
export interface QuotaRule {
  readonly pattern: string;
  readonly bytes: number;
}

/** How many namespaces `list` reports at most of each kind (largest, fullest against a quota). */
export const LISTED_NAMESPACES = 50;

export class NamespaceTable {
  readonly #rules: readonly QuotaRule[];
  readonly #ids = new Map<string, number>();
  #names: (string | undefined)[] = [''];
  #bytes = new Float64Array(16);
  #entries = new Float64Array(16);
  #quota = new Float64Array(16); // 0: none
  readonly #free: number[] = [];
  /** Changes whenever a figure does, so a report of them can be reused until then. */
  version = 0;

  constructor(rules: readonly QuotaRule[] = []) {
    this.#rules = rules;
    this.#quota[0] = ruleFor(rules, '')?.bytes ?? 0;
  }

  /** Whether any namespace has a quota (the store then keeps an LRU list per namespace). */
  get hasQuotas(): boolean {
    return this.#rules.length > 0;
  }

  /** One more than the highest id in use: arrays indexed by id need this many slots. */
  get idLimit(): number {
    return this.#names.length;
  }

  /** The id of `name`, given one if it has none. */
  idOf(name: string): number {
    if (name === '') return 0;
    return this.#ids.get(name) ?? this.#intern(name);
  }

  /** The id of `name`, or -1 when it holds nothing. */
  find(name: string): number {
    if (name === '') return 0;
    return this.#ids.get(name) ?? -1;
  }

  nameOf(id: number): string {
    return this.#names[id]!;
  }

  bytes(id: number): number {
    return this.#bytes[id]!;
  }

  entries(id: number): number {
    return this.#entries[id]!;
  }

  /** The quota of `name` in bytes; 0 when no rule names it. */
  quotaOf(name: string): number {
    const id = this.find(name);
    return id >= 0 ? this.#quota[id]! : (ruleFor(this.#rules, name)?.bytes ?? 0);
  }

  /** An entry of `size` bytes joined namespace `id`. */
  added(id: number, size: number): void {
    this.#bytes[id]! += size;
    this.#entries[id]!++;
    this.version++;
  }

  /** An entry of namespace `id` changed size (replaced in place). */
  resized(id: number, delta: number): void {
    this.#bytes[id]! += delta;
    this.version++;
  }

  /** An entry of `size` bytes left namespace `id`; its last one frees the id. */
  removed(id: number, size: number): void {
    this.#bytes[id]! -= size;
    this.version++;
    if (--this.#entries[id]! > 0 || id === 0) return;
    this.#bytes[id] = 0; // no float drift carried over to the id's next namespace
    this.#ids.delete(this.#names[id]!);
    this.#names[id] = undefined;
    this.#free.push(id);
  }

  /**
   * The figures operators see, bounded whatever the number of namespaces: the
   * LISTED_NAMESPACES largest, plus up to as many namespaces with a quota, fullest first;
   * the whole list largest first.
   */
  list(limit = LISTED_NAMESPACES): NamespaceUsage[] {
    const live: number[] = [];
    for (let id = 0; id < this.#names.length; id++)
      if (this.#names[id] !== undefined && this.#entries[id]! > 0) live.push(id);
    const bytes = this.#bytes;
    const quota = this.#quota;
    const picked = new Set(live.sort((a, b) => bytes[b]! - bytes[a]!).slice(0, limit));
    const withQuota = live.filter((id) => quota[id]! > 0 && !picked.has(id));
    withQuota.sort((a, b) => bytes[b]! / quota[b]! - bytes[a]! / quota[a]!);
    for (const id of withQuota.slice(0, limit)) picked.add(id);
    return [...picked]
      .sort((a, b) => bytes[b]! - bytes[a]!)
      .map((id) => {
        const q = quota[id]!;
        const n = { namespace: this.#names[id]!, bytes: bytes[id]!, entries: this.#entries[id]! };
        return q > 0 ? { ...n, quotaBytes: q } : n;
      });
  }

  #intern(name: string): number {
    let id = this.#free.pop();
    if (id === undefined) {
      id = this.#names.length;
      this.#names.push(name);
      if (id >= this.#bytes.length) this.#grow(this.#bytes.length * 2);
    } else {
      this.#names[id] = name;
    }
    this.#ids.set(name, id);
    this.#bytes[id] = 0;
    this.#entries[id] = 0;
    this.#quota[id] = ruleFor(this.#rules, name)?.bytes ?? 0;
    return id;
  }

  #grow(n: number): void {
    const grown = (old: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const a = new Float64Array(n);
      a.set(old);
      return a;
    };
    this.#bytes = grown(this.#bytes);
    this.#entries = grown(this.#entries);
    this.#quota = grown(this.#quota);
  }
}
