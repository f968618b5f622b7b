// The subcommands, in the order `hoard --help` lists them. One file each.
import type { Command } from 'commander';
import { registerFsck } from './fsck.ts';
import { registerServe } from './serve.ts';

export const commands: ReadonlyArray<(program: Command) => void> = [registerServe, registerFsck];
