// `hoard serve`: loads the configuration (defaults < file < HOARD_* env < flags), starts
// the server and runs until SIGTERM/SIGINT. Its stdout lines are a contract with scripts
// and tests (test/helpers/spawn-server.ts):
//   hoard: HTTP listening on http://HOST:PORT        (https:// with --tls-cert-file)
//   hoard: gRPC listening on grpc://HOST:PORT        (grpcs:// with --tls-cert-file)
//   hoard: store DIR, limit SIZE, using SIZE in N entries
//   hoard: ready
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig } from '../../config/load-config.ts';
import { flagName, OPTIONS } from '../../config/schema.ts';
import { formatSize } from '../../config/units.ts';
import { exitOnSignals } from '../../server/signals.ts';
import { startServer } from '../../server/start-server.ts';

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the cache server: Bazel HTTP + ccache on --http-address, REAPI gRPC on --grpc-address')
    .option('--config <file>', 'config file (.yaml, .yml, .toml or .json); also HOARD_CONFIG');
  // A secret has no flag: command lines are visible to every user of the machine.
  for (const o of OPTIONS.filter((option) => option.fileOnly !== true)) {
    const flag = `--${flagName(o.key)}${o.arg === undefined ? '' : ` <${o.arg}>`}`;
    cmd.addOption(new Option(flag, o.description));
  }
  cmd.addHelpText(
    'after',
    '\nEvery option can also be set in the config file (same name) or as HOARD_<NAME> (e.g. HOARD_MAX_SIZE=50GiB).\nThe bucket credentials go in the config file (s3-access-key-id, s3-secret-access-key) or in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
  );
  cmd.action(async (flags: Record<string, unknown>) => {
    const config = await loadConfig({ flags });
    const server = await startServer(config);
    exitOnSignals(server);
    const usage = server.store.usage();
    const lines = [`hoard: HTTP listening on ${server.httpUrl}`];
    const grpcScheme = server.config.tlsCertFile === '' ? 'grpc' : 'grpcs';
    if (server.grpcAddress !== undefined) lines.push(`hoard: gRPC listening on ${grpcScheme}://${server.grpcAddress}`);
    lines.push(
      `hoard: store ${resolve(server.config.dir)}, limit ${usage.maxBytes === 0 ? 'none' : formatSize(usage.maxBytes)}, using ${formatSize(usage.bytes)} in ${usage.entries} entries`,
      'hoard: ready',
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
