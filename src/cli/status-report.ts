// `hoard status`: the essentials of a server's /status document as text for a terminal
// (someone on ssh), in fixed-width tables: the server, the store against its bound, traffic,
// the hit rate in all, per protocol and per namespace, failures by cause, the slowest
// requests, the largest namespaces and each tier, when there are any. Unknown or missing fields print as "-": an older or newer server still reads.

interface Counts {
  readonly hits?: number;
  readonly misses?: number;
  readonly hitRate?: number | null;
}

interface Usage {
  readonly bytes?: number;
  readonly maxBytes?: number;
  readonly effectiveMaxBytes?: number;
  readonly entries?: number;
  readonly evictions?: number;
}

/** The parts of /status this report reads (src/server/admin-routes.ts statusDocument). */
export interface StatusDocument {
  readonly version?: string;
  readonly uptimeSeconds?: number;
  readonly draining?: boolean;
  readonly workers?: number;
  readonly listeners?: { readonly http?: string; readonly grpc?: string };
  readonly store?: Usage & {
    readonly dir?: string;
    readonly namespaces?: readonly (Usage & { readonly namespace: string; readonly quotaBytes?: number })[];
    readonly tiers?: readonly (Usage & { readonly name: string; readonly kind: string; readonly errors?: number })[];
  };
  readonly lookups?: Counts & {
    readonly protocols?: Readonly<Record<string, Counts>>;
    readonly namespaces?: readonly (Counts & { readonly namespace: string })[];
  };
  readonly traffic?: { readonly requests?: number; readonly bytesReceived?: number; readonly bytesSent?: number };
  readonly errors?: {
    readonly total?: number;
    readonly causes?: readonly { readonly protocol: string; readonly cause: string; readonly count: number }[];
  };
  readonly slowest?: readonly {
    readonly at?: string;
    readonly protocol?: string;
    readonly method?: string;
    readonly path?: string;
    readonly status?: number | string;
    readonly seconds?: number;
  }[];
}

/** Namespaces listed at most (the server's list is already bounded and fullest first). */
const MAX_NAMESPACES = 10;
/** Rows of the other lists (lookups per namespace, failures, slowest requests). */
const MAX_ROWS = 5;

export function statusReport(doc: StatusDocument, server: string): string {
  const out: string[] = [];
  const store = doc.store ?? {};
  out.push(
    table(
      [
        ['server', server],
        ['version', doc.version ?? '-'],
        ['uptime', doc.uptimeSeconds === undefined ? '-' : duration(doc.uptimeSeconds)],
        ['state', doc.draining === true ? 'draining' : 'serving'],
        ['request threads', String(doc.workers ?? '-')],
        ['listeners', [doc.listeners?.http, doc.listeners?.grpc].filter((l) => l !== undefined).join('  ') || '-'],
        [
          'store',
          `${bytes(store.bytes)} of ${bound(store.effectiveMaxBytes ?? store.maxBytes)} (${share(store.bytes, store.effectiveMaxBytes ?? store.maxBytes)})`,
        ],
        ['entries', count(store.entries)],
        ['evictions', count(store.evictions)],
        ['requests', count(doc.traffic?.requests)],
        ['bytes in / out', `${bytes(doc.traffic?.bytesReceived)} / ${bytes(doc.traffic?.bytesSent)}`],
        ['failed requests', count(doc.errors?.total)],
      ],
      undefined,
    ),
  );
  const lookups = doc.lookups ?? {};
  const rows: string[][] = Object.entries(lookups.protocols ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([protocol, c]) => lookupRow(protocol, c));
  rows.push(lookupRow('all', lookups));
  out.push(table(rows, ['protocol', 'hits', 'misses', 'hit rate']));
  const looked = lookups.namespaces ?? [];
  if (looked.length > 0) {
    const shown = looked.slice(0, MAX_ROWS).map((n) => lookupRow(n.namespace === '' ? '(default)' : n.namespace, n));
    out.push(table(shown, ['namespace', 'hits', 'misses', 'hit rate']));
  }
  const causes = doc.errors?.causes ?? [];
  if (causes.length > 0) {
    const shown = causes.slice(0, MAX_ROWS).map((e) => [e.cause, e.protocol, count(e.count)]);
    out.push(table(shown, ['failure', 'protocol', 'count']));
  }
  const slowest = doc.slowest ?? [];
  if (slowest.length > 0) {
    const shown = slowest
      .slice(0, MAX_ROWS)
      .map((r) => [
        r.path ?? '-',
        `${r.protocol ?? '-'} ${r.method ?? '-'}`,
        String(r.status ?? '-'),
        r.seconds === undefined ? '-' : `${r.seconds.toFixed(3)} s`,
        r.at === undefined ? '-' : r.at.slice(11, 19),
      ]);
    out.push(table(shown, ['slowest of the hour', 'call', 'status', 'time', 'at (UTC)']));
  }
  const namespaces = store.namespaces ?? [];
  if (namespaces.length > 0) {
    const shown = namespaces
      .slice(0, MAX_NAMESPACES)
      .map((n) => [
        n.namespace === '' ? '(default)' : n.namespace,
        bytes(n.bytes),
        count(n.entries),
        n.quotaBytes === undefined ? '-' : `${bytes(n.quotaBytes)} (${share(n.bytes, n.quotaBytes)})`,
      ]);
    out.push(table(shown, ['namespace', 'bytes', 'entries', 'quota']));
    if (namespaces.length > MAX_NAMESPACES) out.push(`(${namespaces.length - MAX_NAMESPACES} more namespaces)`);
  }
  const tiers = store.tiers ?? [];
  if (tiers.length > 1) {
    const rowsOfTiers = tiers.map((t) => [
      t.name,
      t.kind,
      `${bytes(t.bytes)} of ${bound(t.effectiveMaxBytes ?? t.maxBytes)}`,
      count(t.entries),
      count(t.evictions),
      count(t.errors),
    ]);
    out.push(table(rowsOfTiers, ['tier', 'kind', 'bytes', 'entries', 'evictions', 'errors']));
  }
  return `${out.join('\n\n')}\n`;
}

function lookupRow(name: string, c: Counts): string[] {
  return [
    name,
    count(c.hits),
    count(c.misses),
    c.hitRate === null || c.hitRate === undefined ? '-' : percent(c.hitRate),
  ];
}

/** Columns padded to their widest cell; numbers (all but the first column) right-aligned. */
function table(rows: readonly (readonly string[])[], header: readonly string[] | undefined): string {
  const all = header === undefined ? rows : [header, ...rows];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, i) => (i === 0 || header === undefined ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n');
}

function count(n: number | undefined): string {
  return n === undefined ? '-' : n.toLocaleString('en-US');
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function share(part: number | undefined, whole: number | undefined): string {
  if (part === undefined || whole === undefined || whole === 0) return '-';
  return percent(part / whole);
}

function bound(max: number | undefined): string {
  return max === 0 ? 'unbounded' : bytes(max);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}
