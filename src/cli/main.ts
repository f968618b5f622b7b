// The `hoard` command line. Each subcommand lives in its own file under commands/ and
// registers itself on the program; this file only assembles them and maps failures to
// exit codes scripts can trust (0 ok, 1 failure or "not clean", 2 usage error).
import { Command, CommanderError } from 'commander';
import { VERSION } from '../server/start-server.ts';
import { commands } from './commands/index.ts';

const program = new Command('hoard')
  .description('hoard: a remote build cache (Bazel remote cache over HTTP and REAPI gRPC, ccache over HTTP)')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    console.error(`hoard: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
