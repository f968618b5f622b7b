// How a request's own notion of "which cache" becomes a store namespace (`Key.namespace`).
// Each frontend calls one of these and nothing else decides it, so the access control per
// namespace to come sees the same names the store does. '' is the default namespace.

/** `--http-prefix`: whether the URL prefix before a protocol's own path separates instances. */
export type HttpPrefixMode = 'namespace' | 'ignore';

/**
 * The namespace of an HTTP request whose protocol takes its URL prefix as the instance
 * (Bazel's `<prefix>/ac/<hash>`): the prefix's segments joined by '/' ('' for none), or
 * '' for every prefix under `ignore` (one store for all).
 */
export function namespaceOfHttpPrefix(mode: HttpPrefixMode, prefix: string): string {
  return mode === 'ignore' ? '' : prefix;
}

/**
 * The namespace of a REAPI request: its instance_name unchanged, or '' for every instance
 * name when instance namespacing is off (one store for all).
 */
export function namespaceOfInstanceName(instanceNamespacing: boolean, instanceName: string | undefined): string {
  return instanceNamespacing ? (instanceName ?? '') : '';
}
