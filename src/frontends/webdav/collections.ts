// The WebDAV tree over a flat store (keys in dav-keys.ts). The root collection always
// exists, marker or not.
//
// Concurrency: a part is a read-modify-write, serialized per part within the thread that
// owns it (SerialByKey), so two PUTs into one directory keep both members. Request threads
// share the store but not their memory, so each writes its own part (by its thread id); a
// listing merges the parts, the latest entry of a name winning.
//
// Order of writes, so that a crash or a failure between two of them never leaves a stored
// file unlisted: a name is listed before its bytes or its marker are stored, parents before
// children. What the listing names but the store does not hold (a failed or cut PUT, a
// DELETE by another thread, an eviction) is left out of every listing, which checks its
// members against the store, and is pruned from a part once the part is full.
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import type { Store } from '../../storage/store.ts';
import type { FrontendLogger } from '../http/http-context.ts';
import {
  decodePart,
  emptyMembers,
  encodePart,
  MAX_MEMBERS,
  MAX_PART_BYTES,
  memberCount,
  mergeMembers,
  type FileInfo,
  type Members,
} from './listing-part.ts';
import { fileKey, MARKER, markerKey, partKeys, shardOf } from './dav-keys.ts';
import { BATCH, presentMembers, pruneAbsent, type Listed } from './listing-check.ts';
import { SerialByKey } from './serial-by-key.ts';

export type { Listed } from './listing-check.ts';

/** Deletes in flight at once while a collection is removed. */
const DELETES_AT_ONCE = 32;
/** One per thread, whatever the number of handlers: a part has one writer per thread. */
const serial = new SerialByKey();

/** What a PUT finds at its path and above it, in one store lookup. */
export interface PutPlan {
  readonly collection: boolean;
  readonly fileExists: boolean;
  /** The ancestors to create, top first (an evicted marker among them is created again). */
  readonly missing: readonly Path[];
  /** An ancestor that is a file, not a collection (409). */
  readonly conflict?: Path;
}

/** What a change did to a part: only a grown part is held to its bounds. */
type Change = 'unchanged' | 'changed' | { readonly added: string };

type Path = readonly string[];

export class Collections {
  readonly #store: Store;
  readonly #logger: FrontendLogger;
  /** The listing part this thread writes. */
  readonly #shard: number;

  constructor(store: Store, logger: FrontendLogger, threadIndex: number) {
    this.#store = store;
    this.#logger = logger;
    this.#shard = shardOf(threadIndex);
  }

  fileKey(namespace: string, path: Path): Key {
    return fileKey(namespace, path);
  }

  /** What is at `path`, in one lookup (PROPFIND Depth 0, sccache's walk up before a PUT). */
  async kind(namespace: string, path: Path): Promise<'collection' | 'file' | undefined> {
    if (path.length === 0) return 'collection';
    const [dir, file] = await this.#store.has([markerKey(namespace, path), this.fileKey(namespace, path)]);
    return dir ? 'collection' : file ? 'file' : undefined;
  }

  /** The merged parts of the listing of `path` (also of a collection whose marker was evicted). */
  async members(namespace: string, path: Path): Promise<Members> {
    const keys = partKeys(namespace, path);
    const present = await this.#store.has(keys);
    const parts = await Promise.all(keys.filter((_, i) => present[i]).map((key) => this.#load(key)));
    const merged = emptyMembers();
    for (const part of parts) if (part !== undefined) mergeMembers(merged, part);
    return merged;
  }

  /** The file at `path`: its size now, and when it was listed (its parent's listing says). */
  async fileInfo(namespace: string, path: Path): Promise<FileInfo | undefined> {
    const size = await this.#store.stat(this.fileKey(namespace, path));
    if (size === undefined) return undefined;
    const parent = await this.members(namespace, path.slice(0, -1));
    return { size, modified: parent.files.get(path[path.length - 1]!)?.modified ?? Date.now() };
  }

  /**
   * The members of `path` that the store holds now, sorted by name, a batch at a time: a
   * deleted or evicted one is left out (a client would list it and then fail to fetch it).
   */
  async *list(namespace: string, path: Path, members: Members): AsyncGenerator<Listed[]> {
    const names = [...new Set([...members.dirs.keys(), ...members.files.keys()])].sort((a, b) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    for (let i = 0; i < names.length; i += BATCH) {
      yield await presentMembers(this.#store, namespace, path, names.slice(i, i + BATCH), members);
    }
  }

  /** Where a PUT of `path` stands, in one lookup: what is there, and which ancestors are missing. */
  async planPut(namespace: string, path: Path): Promise<PutPlan> {
    const ancestors = Array.from({ length: path.length - 1 }, (_, i) => path.slice(0, i + 1));
    const keys = [path, ...ancestors].flatMap((p) => [markerKey(namespace, p), this.fileKey(namespace, p)]);
    const there = await this.#store.has(keys);
    const missing: Path[] = [];
    for (const [i, dir] of ancestors.entries()) {
      if (there[2 * i + 2]) continue;
      if (there[2 * i + 3]) return { collection: there[0]!, fileExists: there[1]!, missing, conflict: dir };
      missing.push(dir);
    }
    return { collection: there[0]!, fileExists: there[1]!, missing };
  }

  /**
   * Creates the collection `path` unless it exists (MKCOL): true when this call created it.
   * Either way its parent lists it again (a part may have been evicted). Listed first, so a
   * marker never exists unlisted. Throws InsufficientStorage when the parent's part is full.
   */
  async create(namespace: string, path: Path): Promise<boolean> {
    if (path.length === 0) return false;
    const name = path[path.length - 1]!;
    await this.#change(namespace, path.slice(0, -1), (m) => {
      const added = !m.dirs.has(name);
      if (added) m.dirs.set(name, Date.now());
      return added ? { added: name } : 'unchanged';
    });
    const marker = markerKey(namespace, path);
    return serial.run(lockName(marker), async () => {
      if ((await this.#store.stat(marker)) !== undefined) return false;
      await this.#store.put(marker, MARKER);
      return true;
    });
  }

  /**
   * Lists the file `path` in its parent with `size` (what the PUT declared, or UNKNOWN_SIZE)
   * before its bytes are stored. Throws InsufficientStorage when this thread's part of the
   * parent's listing is full, so a PUT is refused before its body is read.
   */
  async listFile(namespace: string, path: Path, size: number): Promise<void> {
    const name = path[path.length - 1]!;
    await this.#change(namespace, path.slice(0, -1), (m) => {
      const added = !m.files.has(name);
      m.files.set(name, { size, modified: Date.now() });
      return added ? { added: name } : 'changed';
    });
  }

  /** Lists `path` at the size the store holds now, or not at all (after a chunked or failed PUT). */
  async settleFile(namespace: string, path: Path): Promise<void> {
    const name = path[path.length - 1]!;
    await this.#change(namespace, path.slice(0, -1), async (m) => {
      const size = await this.#store.stat(this.fileKey(namespace, path));
      const listed = m.files.get(name);
      if (size === undefined) return m.files.delete(name) ? 'changed' : 'unchanged';
      if (listed?.size === size) return 'unchanged';
      m.files.set(name, { size, modified: listed?.modified ?? Date.now() });
      return listed === undefined ? { added: name } : 'changed';
    });
  }

  /** Drops `name` from this thread's part of the listing of `dir` (other parts are left to the listing's check). */
  async forget(namespace: string, dir: Path, name: string): Promise<void> {
    await this.#change(namespace, dir, (m) => (m.files.delete(name) || m.dirs.delete(name) ? 'changed' : 'unchanged'));
  }

  /**
   * Deletes the collection `path` with everything its listing names below it (RFC 4918:
   * DELETE of a collection is recursive), its listing, then its marker. The root is
   * emptied, not removed.
   */
  async removeTree(namespace: string, path: Path): Promise<void> {
    const members = await this.members(namespace, path);
    const files = [...members.files.keys()];
    for (let i = 0; i < files.length; i += DELETES_AT_ONCE) {
      const some = files.slice(i, i + DELETES_AT_ONCE);
      await Promise.all(some.map((name) => this.#store.delete(this.fileKey(namespace, [...path, name]))));
    }
    for (const name of members.dirs.keys()) await this.removeTree(namespace, [...path, name]);
    const parts = partKeys(namespace, path);
    const present = await this.#store.has(parts);
    const stored = parts.filter((_, i) => present[i]);
    await Promise.all(stored.map((key) => serial.run(lockName(key), () => this.#store.delete(key))));
    if (path.length > 0) await this.#store.delete(markerKey(namespace, path));
  }

  /** Applies `change` to this thread's part of the listing of `dir`, and writes it back when it changed. */
  async #change(namespace: string, dir: Path, change: (m: Members) => Change | Promise<Change>): Promise<void> {
    const key = partKeys(namespace, dir)[this.#shard]!;
    await serial.run(lockName(key), async () => {
      const m = (await this.#load(key)) ?? emptyMembers();
      const outcome = await change(m);
      if (outcome === 'unchanged') return;
      let bytes = encodePart(m);
      if (typeof outcome === 'object' && overBounds(m, bytes)) {
        await pruneAbsent(this.#store, namespace, dir, m, outcome.added);
        bytes = encodePart(m);
        if (overBounds(m, bytes)) {
          throw new HoardError(
            ErrorCode.InsufficientStorage,
            `the collection /${dir.join('/')} lists as many members as it may (${MAX_MEMBERS}, ${MAX_PART_BYTES} bytes of names)`,
          );
        }
      }
      await this.#store.put(key, bytes);
    });
  }

  /** A listing part; one that does not parse counts as empty (its next change rewrites it). */
  async #load(key: Key): Promise<Members | undefined> {
    const bytes = await this.#store.getBytes(key);
    if (bytes === undefined) return undefined;
    try {
      return decodePart(bytes);
    } catch (err) {
      this.#logger.warn({ err, namespace: key.namespace, id: key.id }, 'unreadable WebDAV listing part; read as empty');
      return emptyMembers();
    }
  }
}

function overBounds(m: Members, bytes: Buffer): boolean {
  return memberCount(m) > MAX_MEMBERS || bytes.length > MAX_PART_BYTES;
}

/** Parts and markers are serialized per namespace and key. */
function lockName(key: Key): string {
  return `${key.namespace}\u0000${key.id}`;
}
