// `hoard fsck --dir D`: offline verification and repair of a disk store.
// Exit status: 0 when every entry verified, 1 when something was corrupt or missing.
import type { Command } from 'commander';
import { fsckDiskStore } from '../../storage/disk/fsck.ts';

export function registerFsck(program: Command): void {
  program
    .command('fsck')
    .description('re-hash every entry of a disk store, quarantine corrupt ones, reconcile index and files')
    .requiredOption('--dir <path>', 'the store directory (the server must be stopped)')
    .option('--no-repair', 'only report; change nothing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { dir: string; repair: boolean; json?: boolean }) => {
      const started = Date.now();
      let lastShown = 0;
      const report = await fsckDiskStore(opts.dir, {
        repair: opts.repair,
        onProgress: (done, total) => {
          if (opts.json || !process.stderr.isTTY || Date.now() - lastShown < 250) return;
          lastShown = Date.now();
          process.stderr.write(`\rchecking ${done}/${total} entries`);
        },
      });
      if (!opts.json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      if (opts.json) {
        console.log(JSON.stringify(report, null, 2));
      } else {
        for (const p of report.problems) {
          console.log(
            `${p.problem}: ${p.key.keyspace} ${p.key.namespace ? `${p.key.namespace}/` : ''}${p.key.id}: ${p.detail}${opts.repair ? (p.problem === 'corrupt' ? ' (quarantined)' : ' (unindexed)') : ''}`,
          );
        }
        console.log(
          `${report.entries} entries, ${report.verified} verified, ${report.problems.length} problems, ` +
            `${report.orphanFilesRemoved} orphan files and ${report.orphanSegmentsRemoved} orphan segments removed ` +
            `in ${((Date.now() - started) / 1000).toFixed(1)} s: ${report.clean ? 'clean' : 'NOT clean'}`,
        );
      }
      if (!report.clean) process.exitCode = 1;
    });
}
