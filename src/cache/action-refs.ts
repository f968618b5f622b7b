// Every CAS blob an action-cache entry references, trees and directory graphs included:
// what must be in a tier before the entry may be (rule 6 across tiers: the bucket never
// holds an AC entry whose outputs it lacks). The completeness check asks "all present?";
// this lists them, so a write-behind uploader can send the missing ones first.
import { actionResultRefs, treeFileRefs } from '../core/action-result.ts';
import type { Digest } from '../core/digest.ts';
import { isHoardError } from '../core/errors.ts';
import { casKey } from '../core/keys.ts';
import type { Store } from '../storage/store.ts';
import { DirectoryLimitError, walkDirectories } from './directory-walk.ts';

const MAX_DIRECTORIES = 100_000;

/**
 * The blobs `acBytes` references in namespace `ns`, the trees and directories themselves
 * included, each once; read from `store`. `'opaque'` when the bytes are not an ActionResult
 * (a raw AC entry: it references nothing we can know); `'unreadable'` when a tree or
 * directory it names is absent from `store` or does not decode, or the graph is too large,
 * so the list cannot be complete.
 */
export async function referencedBlobs(
  store: Store,
  acBytes: Uint8Array,
  ns: string,
  signal?: AbortSignal,
): Promise<Digest[] | 'opaque' | 'unreadable'> {
  let refs: ReturnType<typeof actionResultRefs>;
  try {
    refs = actionResultRefs(acBytes);
  } catch (err) {
    if (isHoardError(err, 'invalid_argument')) return 'opaque';
    throw err;
  }
  const out = new Map<string, Digest>();
  const add = (d: Digest): void => void out.set(`${d.hash}/${d.sizeBytes}`, d);
  refs.files.forEach(add);
  try {
    for (const tree of refs.trees) {
      add(tree);
      const bytes = await store.getBytes(casKey(tree.hash, ns), { signal });
      if (bytes === undefined || bytes.byteLength !== tree.sizeBytes) return 'unreadable';
      treeFileRefs(bytes).forEach(add);
    }
    for await (const dir of walkDirectories(store, refs.rootDirectories, ns, { max: MAX_DIRECTORIES, signal })) {
      if (dir.refs === undefined) return 'unreadable';
      add(dir.digest);
      dir.refs.files.forEach(add);
    }
  } catch (err) {
    if (err instanceof DirectoryLimitError || isHoardError(err, 'corrupt')) return 'unreadable';
    throw err;
  }
  return [...out.values()];
}
