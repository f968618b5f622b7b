// Options of the bench scripts. Each script parses with `strict: false` because
// bench/run.ts hands one argument list to all three; so a bad value must fail here (a
// silent NaN reached wrk as `-d NaNs`), and an unknown option is refused up front by
// `refuseUnknownOptions` against the options of every script that will read the list (a
// mistyped or nonexistent flag was silently ignored).
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Throws, naming the option, when `argv` holds one that none of `sets` knows. */
export function refuseUnknownOptions(argv: readonly string[], ...sets: Options[]): void {
  try {
    parseArgs({ args: [...argv], options: Object.assign({}, ...sets) as Options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new Error(`bench: ${(err as Error).message}`, { cause: err });
  }
}

/** `value` as a positive number, `fallback` when the option was not given; throws otherwise. */
export function numberOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number, got ${JSON.stringify(value)}`);
  return n;
}
