// hoard status --server URL: a running server's /status as tables in the terminal (the
// server, its store against the bound, hits and misses per protocol, the fullest namespaces,
// the tiers). /status needs the admin scope on a server with access control: pass an admin
// token or user as for any command. Exit 0 when the status was read, 1 when it was not
// (unreachable, refused, not a hoard), 2 on usage errors. `--json` prints the document as is.
import type { Command } from 'commander';
import { HttpProbe, statusText } from '../../check/http-probe.ts';
import { addClientFlags, clientTarget, parseUsage, type ClientFlags } from '../cli-support.ts';
import { statusReport, type StatusDocument } from '../status-report.ts';

export function registerStatus(program: Command): void {
  addClientFlags(
    program
      .command('status')
      .description("show a server's state: store usage, hit rates per protocol, namespaces, tiers")
      .option('--json', 'print the /status document itself'),
  ).action(async function (this: Command, flags: ClientFlags & { json?: boolean }) {
    const { server, options } = await parseUsage(this, () => {
      const target = clientTarget(flags);
      const url = new URL(target.server);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new Error(`--server ${target.server}: /status is served over http:// or https:// (the HTTP port)`);
      return target;
    });
    // /status lives at the root of the HTTP port, whatever prefix the URL names.
    const probe = new HttpProbe(new URL(flags.server).origin, options);
    try {
      const res = await probe.request('GET', 'status', { headers: { accept: 'application/json' } });
      if (res.status !== 200) {
        const why =
          res.status === 401
            ? 'authentication failed (/status needs an admin token or user)'
            : res.status === 403
              ? 'permission denied (/status needs the admin scope)'
              : statusText(res);
        process.stderr.write(`hoard status: ${server}: ${why}\n`);
        process.exitCode = 1;
        return;
      }
      let doc: StatusDocument;
      try {
        doc = JSON.parse(res.body.toString('utf8')) as StatusDocument;
      } catch {
        process.stderr.write(`hoard status: ${server}: /status did not answer JSON; is this a hoard server?\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(flags.json === true ? `${JSON.stringify(doc, null, 2)}\n` : statusReport(doc, server));
    } catch (err) {
      process.stderr.write(`hoard status: ${(err as Error).message}\n`);
      process.exitCode = 1;
    } finally {
      await probe.close();
    }
  });
}
