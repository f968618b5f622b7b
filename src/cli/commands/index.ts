// The subcommands, in the order `hoard --help` lists them. One file each.
import type { Command } from 'commander';
import { registerFsck } from './fsck.ts';
import { registerServe } from './serve.ts';
import { registerPut } from './put.ts';
import { registerGet } from './get.ts';
import { registerStat } from './stat.ts';
import { registerStatus } from './status.ts';
import { registerCheck } from './check.ts';
import { registerBench } from './bench.ts';
import { registerToken } from './token.ts';

export const commands: ReadonlyArray<(program: Command) => void> = [
  registerServe,
  registerFsck,
  registerPut,
  registerGet,
  registerStat,
  registerStatus,
  registerCheck,
  registerBench,
  registerToken,
];
