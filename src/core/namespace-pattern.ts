// Namespace patterns, as the access file's grants and the namespace settings
// (--namespace-fallback, --namespace-quota) name namespaces: an exact name, a prefix
// ending in `*` (`pr-*`), or `*` for every namespace, the default one ('') included.

/** Whether `pattern` names `namespace`. */
export function matchesNamespace(pattern: string, namespace: string): boolean {
  if (pattern.endsWith('*')) return namespace.startsWith(pattern.slice(0, -1));
  return pattern === namespace;
}

/** The first of `rules` whose pattern names `namespace`, in the order they were given. */
export function ruleFor<R extends { readonly pattern: string }>(rules: readonly R[], namespace: string): R | undefined {
  for (const r of rules) if (matchesNamespace(r.pattern, namespace)) return r;
  return undefined;
}

/** Checks a pattern's shape: `*` only at its end. Throws an Error saying what is expected. */
export function checkNamespacePattern(pattern: string): string {
  if (pattern.slice(0, -1).includes('*'))
    throw new Error(`${JSON.stringify(pattern)} is not a namespace pattern: '*' may only end it, as in pr-*`);
  return pattern;
}
