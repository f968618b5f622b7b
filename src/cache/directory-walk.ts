// The REAPI Directory graph under some roots, breadth-first, each digest once: the one walk
// behind the AC completeness check (rule 6: DIRECTORY_ONLY outputs) and GetTree. A digest
// is its hash and its size, so a stored blob of the right hash but another size counts as
// absent. The walk is bounded: a graph with more distinct directories than `max` ends it
// with DirectoryLimitError (each caller decides what that means: a miss, an error).
import { directoryRefs } from '../core/action-result.ts';
import type { Digest } from '../core/digest.ts';
import { casKey } from '../core/keys.ts';
import type { Store } from '../storage/store.ts';

export interface WalkedDirectory {
  readonly digest: Digest;
  /** The stored bytes; undefined when absent (or stored with another size). */
  readonly bytes: Buffer | undefined;
  /** What it references; undefined when absent or not a Directory message (not walked into). */
  readonly refs: { readonly files: Digest[]; readonly directories: Digest[] } | undefined;
}

export class DirectoryLimitError extends Error {
  readonly max: number;
  constructor(max: number) {
    super(`more than ${max} directories`);
    this.max = max;
  }
}

export async function* walkDirectories(
  store: Store,
  roots: readonly Digest[],
  ns: string,
  options: { readonly max: number; readonly signal?: AbortSignal },
): AsyncGenerator<WalkedDirectory> {
  const seen = new Set<string>();
  let frontier: readonly Digest[] = roots;
  while (frontier.length > 0) {
    const next: Digest[] = [];
    for (const digest of frontier) {
      options.signal?.throwIfAborted();
      // A digest is hash and size: the same hash referenced with another size is another
      // reference to check (it is a miss), not one already seen.
      const id = `${digest.hash}/${digest.sizeBytes}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (seen.size > options.max) throw new DirectoryLimitError(options.max);
      const stored = await store.getBytes(casKey(digest.hash, ns), { signal: options.signal });
      const bytes = stored?.byteLength === digest.sizeBytes ? stored : undefined;
      let refs: WalkedDirectory['refs'];
      if (bytes !== undefined) {
        try {
          refs = directoryRefs(bytes);
        } catch {
          refs = undefined;
        }
      }
      yield { digest, bytes, refs };
      if (refs) next.push(...refs.directories);
    }
    frontier = next;
  }
}
