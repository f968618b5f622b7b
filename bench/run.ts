// Runs the benchmarks (store, http, grpc, secured, turborepo, s3, or a subset with --only) one after
// another, prints every section, and optionally writes the results as JSON (--json FILE) and as a
// Markdown fragment for bench/RESULTS.md (--md FILE: per section the command, the commit,
// the machine and the load average above one table of every target side by side). Other
// options pass through to the sections (each script documents its own; e.g. --quick,
// --bazel-remote PATH, --hoard-baseline DIR, --keep DIR, and --workers 1,2: one hoard per
// worker count, side by side in the http and grpc tables). bench/scaling.ts runs rows of
// those sections over 1, 2, 4, … workers.
//
//   ./node_modules/.bin/node bench/run.ts [--only store,http,grpc,secured,turborepo,s3] [--workers 1,2] [--quick] [--json F] [--md F]
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { GRPC_OPTIONS, GRPC_OPTIONS_HELP, parseGrpcArgs, runGrpcBench } from './grpc.ts';
import { HTTP_OPTIONS, HTTP_OPTIONS_HELP, parseHttpArgs, runHttpBench } from './http.ts';
import { listOption, runScript, usageLine } from './lib/args.ts';
import { renderSectionMarkdown, type RunMeta } from './lib/markdown.ts';
import { loadAverage, startRunMeta } from './lib/run-meta.ts';
import { renderSection, type Section } from './lib/section.ts';
import { parseS3Args, runS3Bench, S3_OPTIONS, S3_OPTIONS_HELP } from './s3.ts';
import { parseSecuredArgs, runSecuredBench, SECURED_OPTIONS, SECURED_OPTIONS_HELP } from './secured.ts';
import { parseStoreArgs, runStoreBench, STORE_OPTIONS, STORE_OPTIONS_HELP } from './store-scale.ts';
import { parseTurborepoArgs, runTurborepoBench, TURBOREPO_OPTIONS, TURBOREPO_OPTIONS_HELP } from './turborepo.ts';

const ALL = ['store', 'http', 'grpc', 'secured', 'turborepo', 's3'] as const;
type Part = (typeof ALL)[number];

export async function runAll(
  argv: readonly string[],
  log: (line: string) => void = console.error,
): Promise<{ meta: RunMeta; sections: Section[] }> {
  const { values } = parseArgs({ args: [...argv], options: RUN_OPTIONS, strict: false });
  const only = listOption('only', values.only, ALL, ALL);
  const meta = startRunMeta('bench/run.ts', argv);
  const sections: Section[] = [];
  // Every section's options are parsed before the first runs: a bad value for the last
  // must not surface after the first has run for minutes.
  const store = parseStoreArgs(argv);
  const http = parseHttpArgs(argv);
  const grpc = parseGrpcArgs(argv);
  const secured = parseSecuredArgs(argv);
  const turborepo = parseTurborepoArgs(argv);
  const s3 = parseS3Args(argv);
  const runners: Record<Part, () => Promise<Section>> = {
    store: () => runStoreBench(store, log),
    http: () => runHttpBench(http, log),
    grpc: () => runGrpcBench(grpc, log),
    secured: () => runSecuredBench(secured, log),
    turborepo: () => runTurborepoBench(turborepo, log),
    s3: () => runS3Bench(s3, log),
  };
  for (const part of ALL) {
    if (!only.includes(part)) continue;
    log(`bench: ${part}…`);
    const before = loadAverage();
    const section = await runners[part]();
    section.load = { before, after: loadAverage() };
    sections.push(section);
    process.stdout.write(renderSection(section));
  }
  return { meta: { ...meta, loadAfter: loadAverage() }, sections };
}

const RUN_OPTIONS = { only: { type: 'string' }, json: { type: 'string' }, md: { type: 'string' } } as const;

const USAGE = `Usage: ./node_modules/.bin/node bench/run.ts [options]

Runs the store, http, grpc, secured, turborepo and s3 benchmarks one after another and prints every section.
One option list goes to all of them; each takes the options it knows.

Options:
${usageLine('--only LIST', `which benchmarks, of ${ALL.join(', ')} (default all)`)}${usageLine('--json FILE', 'also write the results as JSON')}${usageLine('--md FILE', 'also write them as a Markdown fragment for bench/RESULTS.md')}  -h, --help                     print this and exit

store (bench/store-scale.ts):
${STORE_OPTIONS_HELP}
http (bench/http.ts):
${HTTP_OPTIONS_HELP}
grpc (bench/grpc.ts):
${GRPC_OPTIONS_HELP}
secured (bench/secured.ts):
${SECURED_OPTIONS_HELP}
turborepo (bench/turborepo.ts):
${TURBOREPO_OPTIONS_HELP}
s3 (bench/s3.ts; needs Ceph installed):
${S3_OPTIONS_HELP}`;

if (import.meta.main) {
  const argv = process.argv.slice(2);
  await runScript(
    argv,
    USAGE,
    [STORE_OPTIONS, HTTP_OPTIONS, GRPC_OPTIONS, SECURED_OPTIONS, TURBOREPO_OPTIONS, S3_OPTIONS, RUN_OPTIONS],
    async () => {
      const { values } = parseArgs({ args: argv, options: RUN_OPTIONS, strict: false });
      const { meta, sections } = await runAll(argv);
      process.stdout.write(
        `\n${meta.date} · code ${meta.revision} · ${meta.machine} · load average before ${meta.loadBefore}, after ${meta.loadAfter}\n`,
      );
      if (typeof values.json === 'string') await writeFile(values.json, JSON.stringify({ meta, sections }, null, 2));
      if (typeof values.md === 'string')
        await writeFile(values.md, sections.map((s) => renderSectionMarkdown(s, meta)).join('\n\n') + '\n');
    },
  );
}
