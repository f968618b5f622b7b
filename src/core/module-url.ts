// The URL of a module beside the calling one, with the caller's own extension: `.ts` when
// the sources run directly from a checkout (Node strips the types), `.js` in the built
// package (dist/), where Node does not strip types under node_modules. For code that names
// a module by string rather than by import (a worker thread's entry).

/** `./<stem>.ts` or `./<stem>.js` next to `callerUrl` (pass `import.meta.url`). */
export function siblingModuleUrl(callerUrl: string, stem: string): URL {
  const extension = new URL(callerUrl).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${stem}${extension}`, callerUrl);
}
