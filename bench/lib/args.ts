// Numeric options of the bench scripts. Each script parses with `strict: false` because
// bench/run.ts hands one argument list to all three, so a bad value must fail here: a
// silent NaN reached wrk as `-d NaNs`.

/** `value` as a positive number, `fallback` when the option was not given; throws otherwise. */
export function numberOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number, got ${JSON.stringify(value)}`);
  return n;
}
