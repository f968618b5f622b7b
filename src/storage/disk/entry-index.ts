// The disk store's in-memory index: slot key (32 bytes) -> location, with an intrusive LRU
// list. Struct-of-typed-arrays instead of a Map of objects keeps it near 70 bytes per entry
// (a JS object per blob costs several times that), so a million blobs index in ~70 MB.
// Each entry keeps its namespace as a small id (namespace-table.ts, which the index keeps
// counting): 2 bytes an entry, 4 only past 65,535 live namespaces. With quotas, each
// namespace also gets an LRU list of its own (8 bytes more an entry, only then), so a put
// over its namespace's quota finds that namespace's oldest entry at once.
// Not safe for concurrent mutation across awaits: the disk store mutates it synchronously.
import { NamespaceTable } from './namespace-table.ts';

/** `segment` value for entries stored in a file of their own. */
export const OWN_FILE = 0xffffffff;
/** `segment` value for zero-length entries: nothing on disk but their journal record. */
export const NO_BYTES = 0xfffffffe;

const NONE = -1;
const KEY_BYTES = 32;
const KEY_WORDS = KEY_BYTES / 4;

export interface EntryIndexOptions {
  /** The namespaces the entries' ids name; a table without quotas by default. */
  readonly namespaces?: NamespaceTable;
}

export class EntryIndex {
  /** Bytes and entries per namespace of the indexed entries. */
  readonly namespaces: NamespaceTable;
  #cap = 0;
  #count = 0;
  #keys = new Uint32Array(0); // KEY_WORDS per entry
  #segment = new Uint32Array(0);
  #offset = new Float64Array(0);
  #size = new Float64Array(0);
  #prev = new Int32Array(0); // towards the LRU tail
  #next = new Int32Array(0); // towards the MRU head; doubles as the free list link
  #ns: Uint16Array | Uint32Array = new Uint16Array(0); // namespace id
  // Per-namespace LRU lists, with quotas only: links per entry, ends per namespace id.
  readonly #byNamespace: boolean;
  #nsPrev = new Int32Array(0);
  #nsNext = new Int32Array(0);
  #nsHead = new Int32Array(0);
  #nsTail = new Int32Array(0);
  #table = new Int32Array(0); // open addressing, linear probing, entry id or NONE
  #mask = 0;
  #head = NONE; // most recently used
  #tail = NONE; // least recently used
  #free = NONE;
  #used = 0; // high-water mark of entry ids handed out
  readonly #probe = new Uint32Array(KEY_WORDS);
  readonly #probeBytes = new Uint8Array(this.#probe.buffer);

  constructor(initialCapacity = 1024, options: EntryIndexOptions = {}) {
    this.namespaces = options.namespaces ?? new NamespaceTable();
    this.#byNamespace = this.namespaces.hasQuotas;
    this.#grow(Math.max(16, initialCapacity));
  }

  get size(): number {
    return this.#count;
  }

  /** Bytes held by the index's arrays, for the memory-per-blob figure. */
  get memoryBytes(): number {
    return (
      this.#keys.byteLength +
      this.#segment.byteLength +
      this.#offset.byteLength +
      this.#size.byteLength +
      this.#prev.byteLength +
      this.#next.byteLength +
      this.#ns.byteLength +
      this.#nsPrev.byteLength +
      this.#nsNext.byteLength +
      this.#nsHead.byteLength +
      this.#nsTail.byteLength +
      this.#table.byteLength
    );
  }

  /** Entry id for `slot`, or -1. Does not touch the LRU. */
  find(slot: Uint8Array): number {
    this.#probeBytes.set(slot);
    const p = this.#probe;
    let i = p[0]! & this.#mask;
    for (;;) {
      const id = this.#table[i]!;
      if (id === NONE) return NONE;
      if (this.#keyEquals(id, p)) return id;
      i = (i + 1) & this.#mask;
    }
  }

  /**
   * Inserts or replaces `slot` (of namespace id `ns`, from `namespaces.idOf`) and makes it
   * the most recently used. Returns its id.
   */
  set(slot: Uint8Array, segment: number, offset: number, size: number, ns = 0): number {
    let id = this.find(slot);
    if (id === NONE) {
      id = this.#allocate();
      this.#keys.set(this.#probe, id * KEY_WORDS);
      this.#insertIntoTable(id);
      this.#count++;
      this.#linkHead(id);
      this.#join(id, ns, size);
    } else {
      this.touch(id);
      const was = this.#ns[id]!;
      if (was === ns) {
        this.namespaces.resized(ns, size - this.#size[id]!);
      } else {
        // A slot names one key (namespace included): only a hash collision gets here.
        if (this.#byNamespace) this.#nsUnlink(id, was);
        const wasSize = this.#size[id]!;
        this.#join(id, ns, size);
        this.namespaces.removed(was, wasSize); // last: it may free `was`'s id
      }
    }
    this.#segment[id] = segment;
    this.#offset[id] = offset;
    this.#size[id] = size;
    return id;
  }

  /** Moves an entry to a new location without changing its LRU position (compaction). */
  relocate(id: number, segment: number, offset: number): void {
    this.#segment[id] = segment;
    this.#offset[id] = offset;
  }

  remove(id: number): void {
    this.#removeFromTable(id);
    this.#unlink(id);
    this.#leave(id, this.#ns[id]!, this.#size[id]!);
    this.#count--;
    this.#next[id] = this.#free;
    this.#segment[id] = 0;
    this.#free = id;
  }

  touch(id: number): void {
    // The most recent entry of all is the most recent of its namespace too.
    if (this.#head === id) return;
    this.#unlink(id);
    this.#linkHead(id);
    if (this.#byNamespace) {
      const ns = this.#ns[id]!;
      this.#nsUnlink(id, ns);
      this.#nsLinkHead(id, ns);
    }
  }

  segment(id: number): number {
    return this.#segment[id]!;
  }
  offset(id: number): number {
    return this.#offset[id]!;
  }
  entrySize(id: number): number {
    return this.#size[id]!;
  }
  /** The entry's namespace id (`namespaces.nameOf` names it). */
  namespace(id: number): number {
    return this.#ns[id]!;
  }
  /** The slot key of an entry, as a fresh 32-byte Buffer (a copy: the id's key bytes are
   *  overwritten when a removed entry's id is reused). */
  slot(id: number): Buffer {
    return Buffer.from(new Uint8Array(this.#keys.buffer, id * KEY_BYTES, KEY_BYTES));
  }

  /** The least recently used entry, or -1. */
  get lruTail(): number {
    return this.#tail;
  }
  /** The least recently used entry of namespace id `ns`, or -1; only with quotas. */
  namespaceTail(ns: number): number {
    if (!this.#byNamespace) throw new Error('the index keeps no LRU list per namespace (no quotas)');
    return ns < this.#nsTail.length ? this.#nsTail[ns]! : NONE;
  }
  /** Ids from least to most recently used. Do not mutate while iterating. */
  *lruOrder(): Generator<number> {
    for (let id = this.#tail; id !== NONE; id = this.#next[id]!) yield id;
  }

  /** Counts a new (or moved) entry in namespace `ns`. */
  #join(id: number, ns: number, size: number): void {
    if (ns > 0xffff && this.#ns instanceof Uint16Array) this.#ns = Uint32Array.from(this.#ns);
    this.#ns[id] = ns;
    this.namespaces.added(ns, size);
    if (this.#byNamespace) this.#nsLinkHead(id, ns);
  }

  /** Uncounts an entry from namespace `ns` (which may free the id: counted last). */
  #leave(id: number, ns: number, size: number): void {
    if (this.#byNamespace) this.#nsUnlink(id, ns);
    this.namespaces.removed(ns, size);
  }

  #nsLinkHead(id: number, ns: number): void {
    if (ns >= this.#nsHead.length) this.#growNamespaces(ns + 1);
    const head = this.#nsHead[ns]!;
    this.#nsNext[id] = NONE;
    this.#nsPrev[id] = head;
    if (head !== NONE) this.#nsNext[head] = id;
    this.#nsHead[ns] = id;
    if (this.#nsTail[ns] === NONE) this.#nsTail[ns] = id;
  }

  #nsUnlink(id: number, ns: number): void {
    const prev = this.#nsPrev[id]!;
    const next = this.#nsNext[id]!;
    if (prev !== NONE) this.#nsNext[prev] = next;
    else this.#nsTail[ns] = next;
    if (next !== NONE) this.#nsPrev[next] = prev;
    else this.#nsHead[ns] = prev;
  }

  #growNamespaces(needed: number): void {
    const n = Math.max(needed, this.namespaces.idLimit, this.#nsHead.length * 2, 16);
    const head = new Int32Array(n).fill(NONE);
    const tail = new Int32Array(n).fill(NONE);
    head.set(this.#nsHead);
    tail.set(this.#nsTail);
    this.#nsHead = head;
    this.#nsTail = tail;
  }

  #keyEquals(id: number, p: Uint32Array): boolean {
    const k = this.#keys;
    const base = id * KEY_WORDS;
    for (let w = 0; w < KEY_WORDS; w++) if (k[base + w] !== p[w]) return false;
    return true;
  }

  #allocate(): number {
    if (this.#free !== NONE) {
      const id = this.#free;
      this.#free = this.#next[id]!;
      return id;
    }
    if (this.#used === this.#cap) this.#grow(Math.ceil(this.#cap * 1.5));
    return this.#used++;
  }

  #linkHead(id: number): void {
    this.#next[id] = NONE;
    this.#prev[id] = this.#head;
    if (this.#head !== NONE) this.#next[this.#head] = id;
    this.#head = id;
    if (this.#tail === NONE) this.#tail = id;
  }

  #unlink(id: number): void {
    const prev = this.#prev[id]!;
    const next = this.#next[id]!;
    if (prev !== NONE) this.#next[prev] = next;
    else this.#tail = next;
    if (next !== NONE) this.#prev[next] = prev;
    else this.#head = prev;
  }

  #insertIntoTable(id: number): void {
    let i = this.#keys[id * KEY_WORDS]! & this.#mask;
    while (this.#table[i] !== NONE) i = (i + 1) & this.#mask;
    this.#table[i] = id;
  }

  /** Backward-shift deletion keeps probe chains intact without tombstones. */
  #removeFromTable(id: number): void {
    const mask = this.#mask;
    let i = this.#keys[id * KEY_WORDS]! & mask;
    while (this.#table[i] !== id) i = (i + 1) & mask;
    let hole = i;
    for (let j = (hole + 1) & mask; this.#table[j] !== NONE; j = (j + 1) & mask) {
      const other = this.#table[j]!;
      const home = this.#keys[other * KEY_WORDS]! & mask;
      // Move `other` into the hole if its home is not cyclically within (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        this.#table[hole] = other;
        hole = j;
      }
    }
    this.#table[hole] = NONE;
  }

  #grow(cap: number): void {
    const copy = <T extends Uint16Array | Uint32Array | Int32Array | Float64Array>(
      old: T,
      make: (n: number) => T,
      n: number,
    ): T => {
      const a = make(n);
      a.set(old);
      return a;
    };
    this.#keys = copy(this.#keys, (n) => new Uint32Array(n), cap * KEY_WORDS);
    this.#segment = copy(this.#segment, (n) => new Uint32Array(n), cap);
    this.#offset = copy(this.#offset, (n) => new Float64Array(n), cap);
    this.#size = copy(this.#size, (n) => new Float64Array(n), cap);
    this.#prev = copy(this.#prev, (n) => new Int32Array(n), cap);
    this.#next = copy(this.#next, (n) => new Int32Array(n), cap);
    const ns = this.#ns;
    this.#ns =
      ns instanceof Uint16Array ? copy(ns, (n) => new Uint16Array(n), cap) : copy(ns, (n) => new Uint32Array(n), cap);
    if (this.#byNamespace) {
      this.#nsPrev = copy(this.#nsPrev, (n) => new Int32Array(n), cap);
      this.#nsNext = copy(this.#nsNext, (n) => new Int32Array(n), cap);
    }
    this.#cap = cap;
    let tableSize = 16;
    while (tableSize < cap * 2) tableSize *= 2;
    if (tableSize !== this.#table.length) {
      this.#table = new Int32Array(tableSize).fill(NONE);
      this.#mask = tableSize - 1;
      // Rehash live entries: walk the LRU list (free ids are not in it).
      for (let id = this.#tail; id !== NONE; id = this.#next[id]!) this.#insertIntoTable(id);
    }
  }
}
