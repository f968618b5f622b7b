// hoard check --server URL [--protocol P]: a conformance and fault report for any remote
// cache speaking Bazel HTTP or REAPI gRPC (the default, hoard, bazel-remote, nginx WebDAV...)
// or one of the protocols hoard mounts beside them: Turborepo, Nx, Gradle, WebDAV (sccache).
// Prints a table of checks (pass / fail / info / unsupported / n/a) and a one-line summary;
// exit 0 only if no check failed, 1 otherwise, 2 on usage errors. Each check is documented
// in docs/CHECKS.md.
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { addClientFlags, clientTarget, parseUsage, type ClientFlags } from '../cli-support.ts';
import { CHECK_PROTOCOLS, checkProtocol, checkScheme } from '../../check/check-suites.ts';
import {
  formatRow,
  formatSummary,
  runChecks,
  selectChecks,
  TABLE_HEADER,
  type CheckResult,
} from '../../check/run-checks.ts';

interface CheckFlags extends ClientFlags {
  protocol: string;
  team: string;
  only?: string;
  scale: string;
  json?: string;
}

const PROTOCOL_HELP = `
Protocols (--server is what the real client is pointed at):
  bazel    http(s)://host:port[/prefix] (Bazel HTTP cache) or grpc(s)://host:port (REAPI)
  turbo    http(s)://host:port, turbo's --api (the client appends /v8/artifacts); --token, --team
  nx       http(s)://host:port, NX_SELF_HOSTED_REMOTE_CACHE_SERVER (appends /v1/cache); --token
  gradle   http(s)://[user:password@]host:port/gradle/, the HttpBuildCache url
  webdav   http(s)://[user:password@]host:port/sccache, SCCACHE_WEBDAV_ENDPOINT
Checks per protocol: docs/CHECKS.md.`;

export function registerCheck(program: Command): void {
  addClientFlags(
    program
      .command('check')
      .description('conformance and fault report for any remote cache (exit 0 only if no check fails)'),
  )
    .option('--protocol <name>', `what to check: ${CHECK_PROTOCOLS.join(', ')}`, 'bazel')
    .option('--team <slug>', "turbo: the team slug, sent as ?slug= like turbo's --team ('' for none)", 'hoard-check')
    .option('--only <ids>', 'comma-separated checks to run (see docs/CHECKS.md; an unknown id lists the known ones)')
    .option('--scale <x>', 'multiply data volume and request counts', '1')
    .option('--json <file>', 'also write the report as JSON')
    .addHelpText('after', PROTOCOL_HELP)
    .action(async function (this: Command, flags: CheckFlags) {
      const { target, scale, only, protocol } = await parseUsage(this, () => {
        const scale = Number(flags.scale);
        if (!(scale > 0)) throw new Error(`--scale ${JSON.stringify(flags.scale)}: expected a positive number`);
        const protocol = checkProtocol(flags.protocol);
        const only = flags.only
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        selectChecks(only, protocol);
        const target = clientTarget(flags);
        checkScheme(protocol, target.server);
        return { target, scale, only, protocol };
      });
      let rows = 0;
      const onResult = (r: CheckResult): void => {
        if (rows++ === 0) process.stdout.write(`${TABLE_HEADER}\n`);
        process.stdout.write(`${formatRow(r)}\n`);
      };
      // The server without user info: the report prints it; the password is in the options.
      const report = await runChecks({
        server: target.server,
        clientOptions: target.options,
        protocol,
        team: flags.team,
        scale,
        only,
        onResult,
      });
      process.stdout.write(`${formatSummary(report)}\n`);
      if (flags.json) await writeFile(flags.json, `${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = report.ok ? 0 : 1;
    });
}
