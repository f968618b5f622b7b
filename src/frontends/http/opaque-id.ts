// The ids the mounted tools name their entries by (turbo's and Nx's task hashes, Gradle's
// cache keys) are opaque to hoard. It checks only that one is a short word of
// [A-Za-z0-9_-]: never a path ('/', '.', '%'), never a control character in a key or a log
// line, whatever a client sends.
const OPAQUE_ID = /^[A-Za-z0-9_-]+$/;

export function isOpaqueId(id: string, maxLength: number): boolean {
  return id.length >= 1 && id.length <= maxLength && OPAQUE_ID.test(id);
}

/** The rule, for a 400's message. */
export function opaqueIdRule(maxLength: number): string {
  return `1-${maxLength} of A-Z a-z 0-9 _ -`;
}
