// Options of the bench scripts. Each script parses with `strict: false` because
// bench/run.ts hands one argument list to all three; so a bad value must fail here (not
// reach wrk as `-d NaNs`), and an unknown option is refused up front by
// `refuseUnknownOptions` against the options of every script that will read the list (a
// mistyped flag must not be silently ignored). `runScript` is every script's entry:
// --help prints its usage, and a bad option is one line naming it, not a stack trace.
import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseSize } from '../../src/config/units.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A wrong command line: printed as its message alone, exit status 2. */
export class UsageError extends Error {}

/** Throws, naming the option, when `argv` holds one that none of `sets` knows. */
export function refuseUnknownOptions(argv: readonly string[], ...sets: Options[]): void {
  try {
    parseArgs({
      args: [...argv],
      options: Object.assign({}, ...sets) as Options,
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError(`bench: ${(err as Error).message}`, { cause: err });
  }
}

/** `value` as a positive number, `fallback` when the option was not given; throws otherwise. */
export function numberOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} takes a positive number, got ${JSON.stringify(value)}`);
  return n;
}

/** `value` as a byte size as `hoard serve` reads one ("256KiB", "64MiB", "4096"), `fallback` when not given; throws otherwise. */
export function sizeOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    const n = parseSize(String(value));
    if (n > 0) return n;
  } catch {
    // reported below, naming the option
  }
  throw new UsageError(`--${name} takes a size such as 256KiB or 64MiB, got ${JSON.stringify(value)}`);
}

/** `value` as a comma-separated subset of `allowed`, `fallback` when not given; throws otherwise. */
export function listOption<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: readonly T[],
): readonly T[] {
  if (value === undefined) return fallback;
  const items = String(value)
    .split(',')
    .map((p) => p.trim());
  const unknown = items.filter((p) => !(allowed as readonly string[]).includes(p));
  if (unknown.length || items.length === 0)
    throw new UsageError(`--${name} takes ${allowed.join(', ')} (comma-separated); got ${JSON.stringify(value)}`);
  return items as T[];
}

/**
 * `--workers LIST` as worker counts for `hoard serve --workers N`, ascending and without
 * repeats: whole numbers from 1 to 256, or `auto` (one per core this process may use, as
 * `hoard serve` counts them); undefined when not given; throws otherwise.
 */
export function workersOption(value: unknown): readonly number[] | undefined {
  if (value === undefined) return undefined;
  const counts = String(value)
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .map((p) => (p === 'auto' ? availableParallelism() : /^\d+$/.test(p) ? Number(p) : Number.NaN));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 256))
    throw new UsageError(
      `--workers takes worker counts from 1 to 256 or auto, comma-separated (e.g. 1,2); got ${JSON.stringify(value)}`,
    );
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** The given `hoardArgs` set the worker count themselves (`--workers N` or `--workers=N`). */
export function setsWorkers(hoardArgs: readonly string[]): boolean {
  return hoardArgs.some((a) => a === '--workers' || a.startsWith('--workers='));
}

/**
 * The --hoard-arg values (`args`); refused beside --workers (`workers`) when they set the
 * worker count too: the hoards' names would not say what ran.
 */
export function hoardArgsOption(args: unknown, workers: unknown): readonly string[] {
  const list = (args as string[] | undefined) ?? [];
  if (workers !== undefined && setsWorkers(list))
    throw new UsageError('--workers names each hoard by its worker count: leave --workers out of --hoard-arg');
  return list;
}

/** One line of a usage text: the option, its value, what it does. */
export function usageLine(option: string, text: string): string {
  return `  ${option.padEnd(30)} ${text}\n`;
}

/**
 * A bench script's entry: `--help`/`-h` prints `usage` and runs nothing; an option that no
 * set in `sets` knows, or a bad value, prints one line naming it and exits with status 2.
 */
export async function runScript(
  argv: readonly string[],
  usage: string,
  sets: readonly Options[],
  main: () => Promise<void>,
): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  try {
    refuseUnknownOptions(argv, ...sets);
    await main();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\nRun with --help for the options.\n`);
    process.exitCode = 2;
  }
}
