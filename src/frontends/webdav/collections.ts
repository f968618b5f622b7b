// The WebDAV tree over a flat store (the design is in webdav-handler.ts). Raw entries, in
// the request's namespace:
//   dav:<path>              a file's bytes
//   dav-dir:<path>          a collection's marker: the collection exists while it does
//   dav-ls:<path>#<shard>   a part of its listing: JSON of members (files: size and time;
//                           sub-collections: time), written by one request thread only
// The root collection always exists, marker or not.
//
// Concurrency: a listing part is a read-modify-write, serialized per part within the thread
// that owns it (SerialByKey), so two PUTs into one directory keep both members. Request
// threads share the store but not their memory, so each writes its own part (by its
// thread id); a listing merges the parts, the latest entry of a name winning. Removing a
// file or collection deletes its entry (or marker) from the store: a listing checks its
// members against the store in one batch and leaves the absent ones out, whichever part
// still names them, so a DELETE never has to edit another thread's part. An evicted member
// is left out the same way.
import { threadId } from 'node:worker_threads';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { rawKey, type Key } from '../../core/keys.ts';
import type { Store } from '../../storage/store.ts';
import type { FrontendLogger } from '../http/http-context.ts';
import { SerialByKey } from './serial-by-key.ts';

/** Members one listing part holds at most: bounds what each PUT into a directory rewrites (~50 bytes each). */
export const MAX_MEMBERS = 10_000;
/**
 * Listing parts per collection: request threads beyond this share parts (thread id modulo),
 * and two threads sharing one can lose a member to a concurrent rewrite (the file stays).
 */
const SHARDS = 16;
const OWN_SHARD = threadId % SHARDS;
const MARKER = Buffer.from('collection');

export interface FileInfo {
  readonly size: number;
  /** Milliseconds since the epoch, when this server stored it. */
  readonly modified: number;
}

/** A collection's members as its listing parts say (not checked against the store). */
export interface Members {
  readonly files: Map<string, FileInfo>;
  /** Sub-collections and when they were recorded. */
  readonly dirs: Map<string, number>;
}

/** A member as listed: the store holds it now. */
export type Listed = { readonly name: string } & ({ readonly dir: true } | ({ readonly dir: false } & FileInfo));

type Path = readonly string[];

export class Collections {
  readonly #store: Store;
  readonly #logger: FrontendLogger;
  readonly #serial = new SerialByKey();

  constructor(store: Store, logger: FrontendLogger) {
    this.#store = store;
    this.#logger = logger;
  }

  fileKey(namespace: string, path: Path): Key {
    return rawKey(`dav:${path.join('/')}`, namespace);
  }

  #markerKey(namespace: string, path: Path): Key {
    return rawKey(`dav-dir:${path.join('/')}`, namespace);
  }

  #partKey(namespace: string, path: Path, shard: number): Key {
    return rawKey(`dav-ls:${path.join('/')}#${shard}`, namespace);
  }

  /** Whether `path` is a collection (its marker is there, or it is the root). */
  async isCollection(namespace: string, path: Path): Promise<boolean> {
    return path.length === 0 || (await this.#store.stat(this.#markerKey(namespace, path))) !== undefined;
  }

  /** The merged members of the collection `path`, or undefined when it is none. */
  async members(namespace: string, path: Path): Promise<Members | undefined> {
    if (!(await this.isCollection(namespace, path))) return undefined;
    const keys = Array.from({ length: SHARDS }, (_, shard) => this.#partKey(namespace, path, shard));
    const present = await this.#store.has(keys);
    const parts = await Promise.all(keys.filter((_, i) => present[i]).map((key) => this.#load(key)));
    const merged = empty();
    for (const part of parts) {
      if (part === undefined) continue;
      for (const [name, info] of part.files) {
        const seen = merged.files.get(name);
        if (seen === undefined || seen.modified < info.modified) merged.files.set(name, info);
      }
      for (const [name, at] of part.dirs) merged.dirs.set(name, Math.max(at, merged.dirs.get(name) ?? 0));
    }
    return merged;
  }

  /** The file at `path`: its size now, and when it was stored (its parent's listing says). */
  async fileInfo(namespace: string, path: Path): Promise<FileInfo | undefined> {
    const size = await this.#store.stat(this.fileKey(namespace, path));
    if (size === undefined) return undefined;
    const parent = await this.members(namespace, path.slice(0, -1));
    return { size, modified: parent?.files.get(path[path.length - 1]!)?.modified ?? Date.now() };
  }

  /**
   * The members of the collection `path` that the store holds now, sorted by name: a
   * deleted or evicted one is left out (a client would list it and then fail to fetch it).
   */
  async list(namespace: string, path: Path, members: Members): Promise<Listed[]> {
    const files = [...members.files];
    const dirs = [...members.dirs.keys()];
    const [filesThere, dirsThere] = await Promise.all([
      this.#store.has(
        files.map(([name]) => this.fileKey(namespace, [...path, name])),
        files.map(([, info]) => info.size),
      ),
      this.#store.has(dirs.map((name) => this.#markerKey(namespace, [...path, name]))),
    ]);
    const presentDirs = new Set(dirs.filter((_, i) => dirsThere[i]));
    const out: Listed[] = [...presentDirs].map((name) => ({ name, dir: true }));
    for (let i = 0; i < files.length; i++) {
      const [name, info] = files[i]!;
      // A name both ways (a race of a PUT and a MKCOL): the collection wins, as PROPFIND on it does.
      if (presentDirs.has(name)) continue;
      if (filesThere[i]) {
        out.push({ name, dir: false, ...info });
        continue;
      }
      // Not there at the listed size: gone, or replaced since by a write of another size.
      const size = await this.#store.stat(this.fileKey(namespace, [...path, name]));
      if (size !== undefined) out.push({ name, dir: false, size, modified: info.modified });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Creates the collection `path` unless it exists (MKCOL): true when this call created
   * it. Either way its parent lists it again (a listing part may have been evicted).
   */
  async create(namespace: string, path: Path): Promise<boolean> {
    if (path.length === 0) return false;
    const marker = this.#markerKey(namespace, path);
    const created = await this.#serial.run(lockName(marker), async () => {
      if ((await this.#store.stat(marker)) !== undefined) return false;
      await this.#store.put(marker, MARKER);
      return true;
    });
    const name = path[path.length - 1]!;
    await this.#change(namespace, path.slice(0, -1), (m) => {
      if (m.dirs.has(name)) return false;
      m.dirs.set(name, Date.now());
      return true;
    });
    return created;
  }

  /** The collections from the root down to `path` that do not exist, top first. */
  async missing(namespace: string, path: Path): Promise<Path[]> {
    const out: Path[] = [];
    for (let p = path; !(await this.isCollection(namespace, p)); p = p.slice(0, -1)) out.unshift(p);
    return out;
  }

  /**
   * Lists the file just stored at `path` in its parent, with its size as the store has it
   * now (a concurrent overwrite may have replaced what this caller sent). Throws
   * InsufficientStorage when this thread's part of the parent's listing is full.
   */
  async addFile(namespace: string, path: Path): Promise<void> {
    const dir = path.slice(0, -1);
    const name = path[path.length - 1]!;
    await this.#change(namespace, dir, async (m) => {
      const size = await this.#store.stat(this.fileKey(namespace, path));
      if (size === undefined) return m.files.delete(name);
      if (!m.files.has(name) && m.files.size + m.dirs.size >= MAX_MEMBERS) await this.#makeRoom(namespace, dir, m);
      m.files.set(name, { size, modified: Date.now() });
      return true;
    });
  }

  /** Drops `name` from this thread's part of the listing of `dir` (other parts are left to the listing's check). */
  async forget(namespace: string, dir: Path, name: string): Promise<void> {
    await this.#change(namespace, dir, (m) => m.files.delete(name) || m.dirs.delete(name));
  }

  /**
   * Deletes the collection `path` with everything below it (RFC 4918: DELETE of a
   * collection is recursive). The root is emptied, not removed.
   */
  async removeTree(namespace: string, path: Path): Promise<void> {
    const members = await this.members(namespace, path);
    if (members === undefined) return;
    for (const name of members.files.keys()) await this.#store.delete(this.fileKey(namespace, [...path, name]));
    for (const name of members.dirs.keys()) await this.removeTree(namespace, [...path, name]);
    const parts = Array.from({ length: SHARDS }, (_, shard) => this.#partKey(namespace, path, shard));
    const present = await this.#store.has(parts);
    for (const [i, key] of parts.entries()) {
      if (present[i]) await this.#serial.run(lockName(key), () => this.#store.delete(key));
    }
    if (path.length > 0) await this.#store.delete(this.#markerKey(namespace, path));
  }

  /** Removes the members of a full part that the store no longer holds; throws when none is gone. */
  async #makeRoom(namespace: string, dir: Path, m: Members): Promise<void> {
    const present = new Set((await this.list(namespace, dir, m)).map((l) => l.name));
    for (const name of m.files.keys()) if (!present.has(name)) m.files.delete(name);
    for (const name of m.dirs.keys()) if (!present.has(name)) m.dirs.delete(name);
    if (m.files.size + m.dirs.size >= MAX_MEMBERS) {
      throw new HoardError(
        ErrorCode.InsufficientStorage,
        `the collection /${dir.join('/')} lists ${MAX_MEMBERS} members, the most it may`,
      );
    }
  }

  /** Applies `change` to this thread's part of the listing of `dir`, and writes it back when it changed. */
  async #change(namespace: string, dir: Path, change: (m: Members) => boolean | Promise<boolean>): Promise<void> {
    const key = this.#partKey(namespace, dir, OWN_SHARD);
    await this.#serial.run(lockName(key), async () => {
      const m = (await this.#load(key)) ?? empty();
      if (await change(m)) await this.#store.put(key, encode(m));
    });
  }

  /** A listing part; one that does not parse counts as empty (its next change rewrites it). */
  async #load(key: Key): Promise<Members | undefined> {
    const bytes = await this.#store.getBytes(key);
    if (bytes === undefined) return undefined;
    try {
      return decode(bytes);
    } catch (err) {
      this.#logger.warn({ err, namespace: key.namespace, id: key.id }, 'unreadable WebDAV listing part; read as empty');
      return empty();
    }
  }
}

interface PartJson {
  files: Record<string, [number, number]>;
  dirs: Record<string, number>;
}

function empty(): Members {
  return { files: new Map(), dirs: new Map() };
}

function encode(m: Members): Buffer {
  const json: PartJson = {
    files: Object.fromEntries([...m.files].map(([name, f]) => [name, [f.size, f.modified]])),
    dirs: Object.fromEntries(m.dirs),
  };
  return Buffer.from(JSON.stringify(json));
}

function decode(bytes: Buffer): Members {
  const json = JSON.parse(bytes.toString('utf8')) as Partial<PartJson>;
  const m = empty();
  for (const [name, v] of Object.entries(json.files ?? {})) {
    if (!Array.isArray(v) || !Number.isSafeInteger(v[0]) || !Number.isFinite(v[1])) throw new Error(`bad file ${name}`);
    m.files.set(name, { size: v[0], modified: v[1] });
  }
  for (const [name, at] of Object.entries(json.dirs ?? {})) {
    if (!Number.isFinite(at)) throw new Error(`bad collection ${name}`);
    m.dirs.set(name, at);
  }
  return m;
}

/** Parts and markers are serialized per namespace and key. */
function lockName(key: Key): string {
  return `${key.namespace}\u0000${key.id}`;
}
