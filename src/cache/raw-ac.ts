// Raw action-cache entries: AC keys whose values are another tool's opaque bytes, not
// ActionResults (ccache's layout=bazel writes its own format under `<prefix>/ac/`). A raw
// entry is stored and served as it came: never decoded, validated or checked for
// completeness (rule 6 cannot apply to bytes that reference nothing we can read).

/** `--ac-mode` and `--raw-ac-prefixes`. */
export interface RawAcOptions {
  /** 'raw': every AC entry is raw; 'validate': only those under `rawAcPrefixes`. */
  readonly acMode: 'validate' | 'raw';
  /** URL prefixes (no slashes at either end) whose AC entries are raw, e.g. a ccache prefix. */
  readonly rawAcPrefixes: readonly string[];
}

/**
 * Whether the AC entries under a URL prefix are raw. Decided by the prefix as the client
 * wrote it, not by the namespace it maps to: under `--http-prefix ignore` every prefix is
 * one namespace, yet only the listed prefixes take raw bytes.
 */
export function rawAcMatcher(options: RawAcOptions): (prefix: string) => boolean {
  if (options.acMode === 'raw') return () => true;
  const prefixes = new Set(options.rawAcPrefixes);
  return (prefix) => prefixes.has(prefix);
}
