// Checking a listing against the store: what its parts name is only what was listed, and a
// member may since have been deleted (by another thread, whose part still names it),
// evicted, never stored (a failed or cut PUT), or replaced at another size. Batched, so a
// directory of any size costs one store call per BATCH members.
import type { Store } from '../../storage/store.ts';
import { fileKey, markerKey } from './dav-keys.ts';
import type { FileInfo, Members } from './listing-part.ts';

/** Members checked against the store per call, and listed per chunk of a PROPFIND answer. */
export const BATCH = 1000;

/** A member as listed: the store holds it now. */
export type Listed = { readonly name: string } & ({ readonly dir: true } | ({ readonly dir: false } & FileInfo));

type Path = readonly string[];

/** Those of `names` (members of `path` in `m`) that the store holds, in order, at the size it holds. */
export async function presentMembers(
  store: Store,
  namespace: string,
  path: Path,
  names: readonly string[],
  m: Members,
): Promise<Listed[]> {
  const dirs = names.filter((name) => m.dirs.has(name));
  const files = names.filter((name) => m.files.has(name));
  const fileKeys = files.map((name) => fileKey(namespace, [...path, name]));
  const [dirsThere, filesThere] = await Promise.all([
    store.has(dirs.map((name) => markerKey(namespace, [...path, name]))),
    store.has(
      fileKeys,
      files.map((name) => m.files.get(name)!.size),
    ),
  ]);
  const sizes = new Map<string, number>();
  const unsure: number[] = [];
  for (const [i, name] of files.entries()) {
    if (filesThere[i]) sizes.set(name, m.files.get(name)!.size);
    else unsure.push(i);
  }
  // Not there at the listed size: gone, or replaced since by a write of another size.
  if (unsure.length > 0) {
    const there = await store.has(unsure.map((i) => fileKeys[i]!));
    const stats = await Promise.all(unsure.map((i, j) => (there[j] ? store.stat(fileKeys[i]!) : undefined)));
    for (const [j, i] of unsure.entries()) if (stats[j] !== undefined) sizes.set(files[i]!, stats[j]);
  }
  const collections = new Set(dirs.filter((_, i) => dirsThere[i]));
  const out: Listed[] = [];
  for (const name of names) {
    // A name both ways (a race of a PUT and a MKCOL): the collection wins, as PROPFIND on it does.
    if (collections.has(name)) out.push({ name, dir: true });
    else if (sizes.has(name))
      out.push({ name, dir: false, size: sizes.get(name)!, modified: m.files.get(name)!.modified });
  }
  return out;
}

/** Removes from `m` (a full part of the listing of `dir`) the members the store no longer holds, but `keep` (being stored now). */
export async function pruneAbsent(store: Store, namespace: string, dir: Path, m: Members, keep: string): Promise<void> {
  const dirs = [...m.dirs.keys()].filter((name) => name !== keep);
  const files = [...m.files.keys()].filter((name) => name !== keep);
  for (let i = 0; i < Math.max(dirs.length, files.length); i += BATCH) {
    const someDirs = dirs.slice(i, i + BATCH);
    const someFiles = files.slice(i, i + BATCH);
    const [dirsThere, filesThere] = await Promise.all([
      store.has(someDirs.map((name) => markerKey(namespace, [...dir, name]))),
      store.has(someFiles.map((name) => fileKey(namespace, [...dir, name]))),
    ]);
    someDirs.forEach((name, j) => dirsThere[j] || m.dirs.delete(name));
    someFiles.forEach((name, j) => filesThere[j] || m.files.delete(name));
  }
}
