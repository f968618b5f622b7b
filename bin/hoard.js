#!/usr/bin/env node
// Entry point for the `hoard` command. In a checkout the TypeScript sources run directly
// (Node 24 strips the types), so there is no build step between a checkout and a run; the
// installed package has no sources, only what `npm pack` built into dist/ (Node does not
// strip types under node_modules).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const sources = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(sources) ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href);
