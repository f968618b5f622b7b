// The Grafana dashboard and the Prometheus alert rules against a real server's /metrics:
// every hoard_ metric their expressions read is one the server exports (a histogram through
// its _bucket/_sum/_count series), and every label they match, group or print by is one
// that metric carries. So renaming a metric or a label fails here, not on an operator's
// empty panel or silent alert. promtool (Debian's prometheus package) checks the rules, runs
// their unit tests and parses every dashboard query.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { composeTiers, createStore } from '../../src/storage/create-store.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { startServer } from '../../src/server/start-server.ts';
import { findClient, tempDir } from '../e2e/clients.ts';
import { REPO_ROOT } from '../helpers/spawn-server.ts';
import { sha256, testConfig } from '../helpers/test-server.ts';

const ALERTS = join(REPO_ROOT, 'packaging', 'prometheus', 'hoard-alerts.yml');
const ALERT_TESTS = join(REPO_ROOT, 'packaging', 'prometheus', 'hoard-alerts.test.yml');
const DASHBOARD = join(REPO_ROOT, 'packaging', 'grafana', 'hoard-dashboard.json');
const promtool = findClient('promtool', ['--version'], 'apt-get install prometheus');
const run = promisify(execFile);

/** Labels Prometheus itself attaches to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

interface Query {
  /** Where it is, for failure messages. */
  readonly where: string;
  readonly expr: string;
  /** Labels the result is printed by: legend {{label}}s, annotation $labels.label. */
  readonly printed: readonly string[];
}

interface Family {
  readonly type: string;
  /** Every label name on any of its samples (le included for a histogram's buckets). */
  readonly labels: Set<string>;
  samples: number;
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

async function alertRules(): Promise<AlertRule[]> {
  const doc = parseYaml(await readFile(ALERTS, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

async function alertQueries(): Promise<Query[]> {
  return (await alertRules()).map((r) => ({
    where: `alert ${r.alert}`,
    expr: r.expr,
    printed: Object.values(r.annotations ?? {}).flatMap((a) => [...a.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]!)),
  }));
}

/** Every PromQL expression of the dashboard: panel targets, annotations, variable queries. */
async function dashboardQueries(): Promise<Query[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Record<string, unknown>;
  const found: Query[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, where));
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    const here =
      typeof o['title'] === 'string'
        ? `panel "${o['title']}"`
        : typeof o['name'] === 'string'
          ? `"${o['name']}"`
          : where;
    if (typeof o['expr'] === 'string') {
      const legend = `${o['legendFormat'] ?? ''}${o['textFormat'] ?? ''}`;
      found.push({
        where: here,
        expr: o['expr'],
        printed: [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!),
      });
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'expr') walk(v, here);
  };
  walk(dashboard['panels'], 'panels');
  walk(dashboard['annotations'], 'annotations');
  const variables = (dashboard['templating'] as { list: { name: string; definition?: string }[] }).list;
  for (const v of variables) {
    // label_values(selector, label): the selector is PromQL, the label is grouped by.
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(v.definition ?? '');
    if (m !== null) found.push({ where: `variable ${v.name}`, expr: `sum by (${m[2]}) (${m[1]})`, printed: [] });
  }
  return found;
}

/** The metric families of a Prometheus text exposition, with their samples' label names. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) families.set(type[1]!, { type: type[2]!, labels: new Set(), samples: 0 });
  }
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (sample === null) continue;
    const name = sample[1]!;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    if (family === undefined) continue;
    family.samples++;
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="/g)) family.labels.add(m[1]!);
  }
  return families;
}

/** String literals blanked, so a label value never reads as a metric or label name. */
function withoutStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/**
 * What is wrong with `q` against the exported families: metrics that do not exist, a
 * histogram read without its suffix, labels no metric of the expression carries.
 */
function problems(q: Query, families: Map<string, Family>): string[] {
  const out: string[] = [];
  const bare = withoutStrings(q.expr);
  const read: Family[] = [];
  let buckets = false;
  for (const [, name] of bare.matchAll(/\b(hoard_\w+)/g)) {
    const family = families.get(name!);
    const base = /^(.*)_(bucket|sum|count)$/.exec(name!);
    const histogram = base && families.get(base[1]!);
    if (family !== undefined && family.type === 'histogram') {
      out.push(`${q.where}: ${name} is a histogram: read ${name}_bucket, _sum or _count`);
      continue;
    } else if (family !== undefined) {
      read.push(family);
    } else if (
      histogram &&
      (histogram.type === 'histogram' || (histogram.type === 'summary' && base[2] !== 'bucket'))
    ) {
      read.push(histogram);
      buckets ||= base[2] === 'bucket';
    } else {
      out.push(`${q.where}: ${name} is not exported by hoard`);
      continue;
    }
    if (read.at(-1)?.samples === 0) out.push(`${q.where}: ${name} has no series: the workload must produce one`);
  }
  const known = new Set([...TARGET_LABELS, ...read.flatMap((f) => [...f.labels])]);
  if (!buckets) known.delete('le');
  // label_replace(v, "dst", "replacement", "src", "regex"): src is read, dst is made.
  for (const m of q.expr.matchAll(/,\s*"(\w+)",\s*"[^"]*",\s*"(\w+)",\s*"[^"]*"\s*\)/g)) {
    if (!known.has(m[2]!)) out.push(`${q.where}: label_replace reads label ${m[2]}, which no metric has`);
    known.add(m[1]!);
  }
  // Matchers belong to the metric in front of them.
  for (const [, name, matchers] of q.expr.matchAll(/\b(hoard_\w+)\s*\{([^}]*)\}/g)) {
    const base = name!.replace(/_(bucket|sum|count)$/, '');
    const family = families.get(name!) ?? families.get(base);
    const own = new Set([...TARGET_LABELS, ...(family?.labels ?? [])]);
    for (const [, label] of withoutStrings(matchers!).matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*""/g)) {
      if (!own.has(label!)) out.push(`${q.where}: ${name} has no label ${label}`);
    }
  }
  const grouped = [...bare.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap(
    (m) =>
      m[1]!
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
  );
  for (const label of [...grouped, ...q.printed]) {
    if (!known.has(label)) out.push(`${q.where}: label ${label} is on none of its metrics`);
  }
  return out;
}

/**
 * The store of a server with two tiers, the disk in front of a memory "bucket", so the
 * per-tier series (errors included) exist. The bucket also reports a write-behind queue's
 * figure, which no tier of today's stacks does yet, so that the pending-writes panel and alert
 * are checked too.
 */
async function twoTierStore(config: Parameters<typeof createStore>[0]): Promise<Store> {
  const stack = composeTiers([
    { name: 'disk', kind: 'disk', store: await createStore(config) },
    { name: 'bucket', kind: 'memory', store: new MemoryStore() },
  ]);
  return new Proxy(stack, {
    get(target, property) {
      if (property === 'usage') {
        return () => {
          const usage = target.usage();
          return { ...usage, tiers: usage.tiers?.map((t) => (t.name === 'bucket' ? { ...t, pending: 0 } : t)) };
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A scrape of a server that answered a put, a hit, a miss, a refused upload and a client's events. */
async function scrapeAfterWorkload(): Promise<Map<string, Family>> {
  const dir = await tempDir('hoard-monitoring-');
  const config = await testConfig(dir.path, { namespaceQuota: 'team=1MiB' });
  const server = await startServer(config, { store: await twoTierStore(config) });
  try {
    const url = server.httpUrl;
    const blob = Buffer.from('a build output worth caching');
    assert.equal((await fetch(`${url}/team/cas/${sha256(blob)}`, { method: 'PUT', body: blob })).status, 200);
    const hit = await fetch(`${url}/team/cas/${sha256(blob)}`);
    assert.equal(hit.status, 200);
    await hit.arrayBuffer();
    assert.equal((await fetch(`${url}/cas/${sha256('never stored')}`)).status, 404);
    const wrong = await fetch(`${url}/cas/${sha256('claimed')}`, { method: 'PUT', body: 'other bytes' });
    assert.equal(wrong.status, 400, 'a digest mismatch is refused and counted as an error');
    const events = [{ sessionId: 's', source: 'LOCAL', event: 'HIT', hash: 'abc', duration: 1 }];
    assert.equal(
      (await fetch(`${url}/v8/artifacts/events?slug=web`, { method: 'POST', body: JSON.stringify(events) })).status,
      200,
    );
    // Garbage for a minor collection, so the GC histogram has a series.
    let kept = 0;
    for (let i = 0; i < 200_000; i++) kept += new Array<number>(16).fill(i).length;
    assert.ok(kept > 0);

    // The namespace list is refreshed at most once a second; scrape until it is there.
    let families = new Map<string, Family>();
    for (let attempt = 0; attempt < 30; attempt++) {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      families = parseExposition(await res.text());
      if ((families.get('hoard_namespace_quota_bytes')?.samples ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return families;
  } finally {
    await server.shutdown(1000);
    await dir.remove();
  }
}

test('every metric and label of the dashboard and the alert rules is one hoard exports', async () => {
  const queries = [...(await dashboardQueries()), ...(await alertQueries())];
  assert.ok(queries.length > 30, `found only ${queries.length} expressions`);
  const families = await scrapeAfterWorkload();
  const used = new Set(queries.flatMap((q) => [...withoutStrings(q.expr).matchAll(/\bhoard_\w+/g)].map((m) => m[0])));
  for (const name of ['hoard_store_evictions', 'hoard_store_pending', 'hoard_namespace_quota_bytes'])
    assert.ok(used.has(name), `${name} is watched`);
  assert.deepEqual(
    queries.flatMap((q) => problems(q, families)),
    [],
  );

  // The check itself finds a renamed metric, a histogram without its suffix and a wrong label.
  const probe = (expr: string): string[] => problems({ where: 'probe', expr, printed: [] }, families);
  assert.equal(probe('rate(hoard_request_total[5m])').length, 1);
  assert.equal(probe('rate(hoard_request_duration_seconds[5m])').length, 1);
  assert.equal(probe('sum by (tier) (rate(hoard_requests_total[5m]))').length, 1);
  assert.equal(probe('hoard_store_bytes{protocol="x"}').length, 1);
  assert.equal(probe('sum by (le) (rate(hoard_request_duration_seconds_bucket[5m]))').length, 0);
});

test('every alert waits, has a severity and tells the operator what happened and what to do', async () => {
  const rules = await alertRules();
  assert.ok(rules.length >= 6);
  const names = rules.map((r) => r.alert);
  for (const name of [
    'HoardDown',
    'HoardErrorRateHigh',
    'HoardStoreEvictionChurn',
    'HoardStoreBoundReduced',
    'HoardTierFailing',
    'HoardWritesPilingUp',
  ])
    assert.ok(names.includes(name), `${name} is defined`);
  for (const r of rules) {
    assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert} has a for:`);
    assert.match(r.labels?.['severity'] ?? '', /^(critical|warning)$/, `${r.alert} has a severity`);
    assert.ok((r.annotations?.['summary'] ?? '').length > 10, `${r.alert} has a summary`);
    assert.ok((r.annotations?.['description'] ?? '').length > 80, `${r.alert} has a description`);
  }
});

test('every hoard series of the dashboard is filtered by its job and instance variables', async () => {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
    schemaVersion: number;
    templating: { list: { name: string; type: string }[] };
  };
  assert.ok(dashboard.schemaVersion >= 36);
  const variables = dashboard.templating.list.map((v) => `${v.name}:${v.type}`);
  for (const v of ['datasource:datasource', 'job:query', 'instance:query']) assert.ok(variables.includes(v), v);
  for (const q of await dashboardQueries()) {
    if (q.where.startsWith('variable')) continue;
    const selectors = [...q.expr.matchAll(/\bhoard_\w+(\s*\{[^}]*\})?/g)];
    assert.ok(selectors.length > 0, `${q.where}: ${q.expr} reads no hoard metric`);
    for (const [selector, matchers] of selectors) {
      assert.ok(
        matchers?.includes('job=~"$job"') && matchers.includes('instance=~"$instance"'),
        `${q.where}: ${selector} is not filtered by $job and $instance`,
      );
    }
  }
});

test('promtool accepts the rules, their unit tests and every dashboard query', { skip: promtool.skip }, async () => {
  const check = await run('promtool', ['check', 'rules', ALERTS]);
  assert.match(check.stdout, /SUCCESS/);
  const unit = await run('promtool', ['test', 'rules', ALERT_TESTS]);
  assert.match(unit.stdout, /SUCCESS/);

  // The dashboard's queries as recording rules, Grafana's variables given values, so that
  // promtool parses each one.
  const work = await tempDir('hoard-dashboard-rules-');
  try {
    const rules = (await dashboardQueries())
      .filter((q) => !q.where.startsWith('variable'))
      .map((q, i) => {
        const expr = q.expr
          .replaceAll('$__rate_interval', '5m')
          .replaceAll('$__interval', '1m')
          .replaceAll('$__range', '1h')
          .replaceAll('$job', 'hoard')
          .replaceAll('$instance', '.+');
        assert.ok(!expr.includes('$'), `${q.where}: ${q.expr} uses a variable this test does not know`);
        return { record: `hoard_dashboard:query_${i}`, expr };
      });
    const file = join(work.path, 'dashboard-rules.yml');
    await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const parsed = await run('promtool', ['check', 'rules', file]);
    assert.match(parsed.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    await work.remove();
  }
});
