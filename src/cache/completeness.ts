// Rule 6: never answer an action-cache hit that cannot be served. An AC entry is returned
// only when every CAS blob it references (output files, stdout/stderr, output-directory
// trees and the files they list) is present; the check refreshes those blobs in the LRU
// so eviction does not split a result from its outputs right after a hit.
import { actionResultRefs, treeFileRefs } from '../core/action-result.ts';
import type { Digest } from '../core/digest.ts';
import { isHoardError } from '../core/errors.ts';
import { acKey, casKey } from '../core/keys.ts';
import type { Store } from '../storage/store.ts';
import { DirectoryLimitError, walkDirectories } from './directory-walk.ts';

/** Directory graphs deeper or wider than this are treated as incomplete (a miss). */
const MAX_DIRECTORIES = 100_000;

export interface ActionLookup {
  readonly namespace?: string;
  readonly signal?: AbortSignal;
}

/**
 * The stored ActionResult bytes when the entry and everything it references are present,
 * otherwise undefined (a miss). A stored value that is not an ActionResult is a miss too.
 */
export async function getCompleteActionResult(
  store: Store,
  hash: string,
  options: ActionLookup = {},
): Promise<Buffer | undefined> {
  const ns = options.namespace ?? '';
  const bytes = await store.getBytes(acKey(hash, ns), { signal: options.signal });
  if (bytes === undefined) return undefined;
  try {
    return (await referencesPresent(store, bytes, ns, options.signal)) ? bytes : undefined;
  } catch (err) {
    if (isHoardError(err, 'invalid_argument') || isHoardError(err, 'corrupt')) return undefined;
    throw err;
  }
}

async function referencesPresent(
  store: Store,
  actionResult: Uint8Array,
  ns: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const refs = actionResultRefs(actionResult);
  if (!(await allPresent(store, [...refs.files, ...refs.trees], ns))) return false;
  for (const tree of refs.trees) {
    signal?.throwIfAborted();
    const treeBytes = await store.getBytes(casKey(tree.hash, ns), { signal }); // its size was checked above
    if (treeBytes === undefined || !(await allPresent(store, treeFileRefs(treeBytes), ns))) return false;
  }
  // DIRECTORY_ONLY outputs: every directory under them present, decodable, with its files.
  try {
    for await (const dir of walkDirectories(store, refs.rootDirectories, ns, { max: MAX_DIRECTORIES, signal })) {
      if (!dir.refs || !(await allPresent(store, dir.refs.files, ns))) return false;
    }
  } catch (err) {
    if (err instanceof DirectoryLimitError) return false;
    throw err;
  }
  return true;
}

/** A digest is its hash and its size: a blob of the right hash but another size is absent. */
async function allPresent(store: Store, digests: readonly Digest[], ns: string): Promise<boolean> {
  if (digests.length === 0) return true;
  const present = await store.has(
    digests.map((d) => casKey(d.hash, ns)),
    digests.map((d) => d.sizeBytes),
  );
  return present.every(Boolean);
}
