#!/usr/bin/env node
// Entry point for the `hoard` command. The sources are TypeScript run by Node 24's
// built-in type stripping, so there is no build step between a checkout and a run.
import '../src/cli/main.ts';
