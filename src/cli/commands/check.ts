// hoard check --server URL: a conformance and fault report for any remote cache speaking
// Bazel HTTP or REAPI gRPC (hoard, bazel-remote, nginx WebDAV...). Prints a table of checks
// (pass / fail / n/a) and a one-line summary; exit 0 only if every applicable check passed,
// 1 otherwise, 2 on usage errors. Each check is documented in docs/CHECKS.md.
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { addClientFlags, clientTarget, parseUsage, type ClientFlags } from '../cli-support.ts';
import {
  ALL_CHECKS,
  formatRow,
  formatSummary,
  runChecks,
  selectChecks,
  TABLE_HEADER,
  type CheckResult,
} from '../../check/run-checks.ts';

export function registerCheck(program: Command): void {
  addClientFlags(
    program
      .command('check')
      .description('conformance and fault report for any remote cache (exit 0 only if all applicable checks pass)'),
  )
    .option('--only <ids>', `comma-separated checks to run: ${ALL_CHECKS.map((c) => c.id).join(', ')}`)
    .option('--scale <x>', 'multiply data volume and request counts', '1')
    .option('--json <file>', 'also write the report as JSON')
    .action(async function (this: Command, flags: ClientFlags & { only?: string; scale: string; json?: string }) {
      const { target, scale, only } = await parseUsage(this, () => {
        const scale = Number(flags.scale);
        if (!(scale > 0)) throw new Error(`--scale ${JSON.stringify(flags.scale)}: expected a positive number`);
        const only = flags.only
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        selectChecks(only);
        return { target: clientTarget(flags), scale, only };
      });
      let rows = 0;
      const onResult = (r: CheckResult): void => {
        if (rows++ === 0) process.stdout.write(`${TABLE_HEADER}\n`);
        process.stdout.write(`${formatRow(r)}\n`);
      };
      // The server without user info: the report prints it; the password is in the options.
      const report = await runChecks({ server: target.server, clientOptions: target.options, scale, only, onResult });
      process.stdout.write(`${formatSummary(report)}\n`);
      if (flags.json) await writeFile(flags.json, `${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = report.ok ? 0 : 1;
    });
}
