// Runs the checks of `hoard check` against one server, one after another (each check makes
// its own load; running them in parallel would blur which one a failure belongs to), and
// formats the report: a table of checks and a one-line summary.
import { emptyHash } from '../core/digest.ts';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { CheckContext, errorText, type Check, type CheckContextOptions, type CheckStatus } from './check-context.ts';
import { conformanceChecks } from './conformance-checks.ts';
import { faultChecks } from './fault-checks.ts';

export const ALL_CHECKS: readonly Check[] = [...conformanceChecks, ...faultChecks];

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly ms: number;
}

export interface CheckReport {
  readonly server: string;
  readonly results: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly notApplicable: number;
  /** True when every applicable check passed. */
  readonly ok: boolean;
}

export interface RunChecksOptions extends CheckContextOptions {
  /** Only these check ids (default all). */
  readonly only?: readonly string[];
  /** Called as each check finishes, e.g. to print progressively. */
  readonly onResult?: (r: CheckResult) => void;
}

/** The checks `only` names (all when empty); InvalidArgument naming any unknown id. */
export function selectChecks(only: readonly string[] = []): readonly Check[] {
  const unknown = only.filter((id) => !ALL_CHECKS.some((c) => c.id === id));
  if (unknown.length)
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `unknown check ${unknown.join(', ')}; known: ${ALL_CHECKS.map((c) => c.id).join(', ')}`,
    );
  return only.length ? ALL_CHECKS.filter((c) => only.includes(c.id)) : ALL_CHECKS;
}

export async function runChecks(opts: RunChecksOptions): Promise<CheckReport> {
  const selected = selectChecks(opts.only);
  await preflight(opts);
  const results: CheckResult[] = [];
  for (const check of selected) {
    const ctx = new CheckContext(opts);
    const t0 = performance.now();
    let outcome;
    try {
      outcome = await check.run(ctx);
    } catch (err) {
      outcome = { status: 'fail' as const, detail: errorText(err) };
    } finally {
      await ctx.close();
    }
    const r = { id: check.id, title: check.title, ...outcome, ms: Math.round(performance.now() - t0) };
    results.push(r);
    opts.onResult?.(r);
  }
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return {
    server: opts.server,
    results,
    passed: count('pass'),
    failed: count('fail'),
    notApplicable: count('n/a'),
    ok: count('fail') === 0,
  };
}

/** One cheap call first: an unreachable server is one clear error, not ten failed checks. */
async function preflight(opts: RunChecksOptions): Promise<void> {
  const ctx = new CheckContext(opts);
  try {
    const client = ctx.client({ retry: { retries: 1 } });
    if (client.protocol === 'grpc') await client.capabilities();
    else await client.has({ hash: emptyHash(), sizeBytes: 0 });
  } finally {
    await ctx.close();
  }
}

export function formatRow(r: CheckResult): string {
  const time = r.ms >= 1000 ? `${(r.ms / 1000).toFixed(1)}s` : `${r.ms}ms`;
  return `${r.id.padEnd(18)} ${r.status.padEnd(5)} ${time.padStart(7)}  ${r.detail}`;
}

export const TABLE_HEADER = `${'CHECK'.padEnd(18)} ${'RESULT'.padEnd(5)} ${'TIME'.padStart(6)}  DETAIL`;

export function formatSummary(report: CheckReport): string {
  return `hoard check ${report.server}: ${report.ok ? 'OK' : 'FAILED'}: ${report.passed} passed, ${report.failed} failed, ${report.notApplicable} not applicable`;
}
