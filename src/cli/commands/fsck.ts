import type { Command } from 'commander';

export function registerFsck(program: Command): void {
  program
    .command('fsck')
    .description('re-hash every blob of a disk store, quarantine corrupt ones, reconcile index and files')
    .requiredOption('--dir <path>', 'the store directory')
    .action(async () => {
      throw new Error('fsck lands with the disk store');
    });
}
