// REAPI: servers behave as though the empty blob always exists. Every store answers for
// it without touching its medium, so no tier can "lose" it.
import { emptyHash } from '../core/digest.ts';
import type { Key } from '../core/keys.ts';

export function isEmptyBlobKey(key: Key): boolean {
  return key.keyspace === 'cas' && key.id === emptyHash();
}
