// Runs the checks of `hoard check` against one server, one after another (each check makes
// its own load; running them in parallel would blur which one a failure belongs to), and
// formats the report: a table of checks and a one-line summary.
import { userinfoOf, withoutUserinfo } from '../client/client-credentials.ts';
import { emptyHash } from '../core/digest.ts';
import { ErrorCode, HoardError } from '../core/errors.ts';
import { CheckContext, errorText, type Check, type CheckContextOptions, type CheckStatus } from './check-context.ts';
import { BAZEL_CHECKS, checkScheme, checksFor, type CheckProtocol } from './check-suites.ts';

/** The checks of the default protocol (Bazel HTTP / REAPI). */
export const ALL_CHECKS: readonly Check[] = BAZEL_CHECKS;

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly ms: number;
}

export interface CheckReport {
  readonly server: string;
  readonly protocol: CheckProtocol;
  readonly results: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly info: number;
  readonly unsupported: number;
  readonly notApplicable: number;
  /** True when every applicable check passed. */
  readonly ok: boolean;
}

export interface RunChecksOptions extends CheckContextOptions {
  /** Which protocol to check (default 'bazel': Bazel HTTP or REAPI, by the URL's scheme). */
  readonly protocol?: CheckProtocol;
  /** Only these check ids (default all). */
  readonly only?: readonly string[];
  /** Called as each check finishes, e.g. to print progressively. */
  readonly onResult?: (r: CheckResult) => void;
}

/** The checks of `protocol` that `only` names (all when empty); InvalidArgument naming any unknown id. */
export function selectChecks(
  only: readonly string[] = [],
  protocol: CheckProtocol = 'bazel',
  team = '',
): readonly Check[] {
  const all = checksFor(protocol, team);
  const unknown = only.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length)
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `unknown ${protocol} check ${unknown.join(', ')}; known: ${all.map((c) => c.id).join(', ')}`,
    );
  return only.length ? all.filter((c) => only.includes(c.id)) : all;
}

export async function runChecks(opts: RunChecksOptions): Promise<CheckReport> {
  const protocol = opts.protocol ?? 'bazel';
  checkScheme(protocol, opts.server);
  const selected = selectChecks(opts.only, protocol, opts.team);
  const redact = redactor(opts);
  try {
    await preflight(opts, protocol);
  } catch (err) {
    if (err instanceof Error) err.message = redact(err.message);
    throw err;
  }
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
    const ms = Math.round(performance.now() - t0);
    const r = { id: check.id, title: check.title, status: outcome.status, detail: redact(outcome.detail), ms };
    results.push(r);
    opts.onResult?.(r);
  }
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return {
    server: withoutUserinfo(opts.server),
    protocol,
    results,
    passed: count('pass'),
    failed: count('fail'),
    info: count('info'),
    unsupported: count('unsupported'),
    notApplicable: count('n/a'),
    ok: count('fail') === 0,
  };
}

/**
 * Replaces every secret of the options in `text` with "***": a detail quotes the server's
 * answers, and a hostile or careless server may echo the Authorization it received.
 */
function redactor(opts: RunChecksOptions): (text: string) => string {
  const o = opts.clientOptions ?? {};
  const basic = userinfoOf(new URL(opts.server)) ?? o.basic;
  const secrets = [
    o.token,
    basic?.password,
    basic && Buffer.from(`${basic.user}:${basic.password}`).toString('base64'),
    ...Object.values(o.headers ?? {}),
  ].filter((s): s is string => s !== undefined && s.length >= 4);
  return (text) => secrets.reduce((t, s) => t.split(s).join('***'), text);
}

/** One cheap call first: an unreachable server is one clear error, not ten failed checks. */
async function preflight(opts: RunChecksOptions, protocol: CheckProtocol): Promise<void> {
  const ctx = new CheckContext(opts);
  try {
    // Any HTTP answer will do: the checks judge the statuses.
    if (protocol !== 'bazel') return void (await ctx.http().request('GET', ''));
    const client = ctx.client({ retry: { retries: 1 } });
    if (client.protocol === 'grpc') await client.capabilities();
    else await client.has({ hash: emptyHash(), sizeBytes: 0 });
  } finally {
    await ctx.close();
  }
}

export function formatRow(r: CheckResult): string {
  const time = r.ms >= 1000 ? `${(r.ms / 1000).toFixed(1)}s` : `${r.ms}ms`;
  return `${r.id.padEnd(18)} ${r.status.padEnd(11)} ${time.padStart(7)}  ${r.detail}`;
}

export const TABLE_HEADER = `${'CHECK'.padEnd(18)} ${'RESULT'.padEnd(11)} ${'TIME'.padStart(7)}  DETAIL`;

export function formatSummary(report: CheckReport): string {
  // info and unsupported appear only when some check has them, so the usual line stays short.
  const extra = [
    report.info ? `, ${report.info} info` : '',
    report.unsupported ? `, ${report.unsupported} unsupported` : '',
  ].join('');
  const what = report.protocol === 'bazel' ? '' : ` (${report.protocol})`;
  return `hoard check ${report.server}${what}: ${report.ok ? 'OK' : 'FAILED'}: ${report.passed} passed, ${report.failed} failed${extra}, ${report.notApplicable} not applicable`;
}
