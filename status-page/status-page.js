// @ts-check
// The status page's script: reads /status?history every few seconds and draws it. No
// framework: a few cards and tables rewritten on each answer, and uPlot for the charts
// (small, no dependencies, made for time series). When an answer fails, the page says the
// server is unreachable and since when, and greys what it shows: a stale figure must never
// pass for a live one.

/** @typedef {import('../src/server/status-document.ts').StatusDocument} StatusDocument */
/** @typedef {import('../src/server/status-history.ts').StatusSample} StatusSample */

const root = document.documentElement.dataset['root'] ?? './';
const STATUS_URL = `${root}status?history`;
const REFRESH_MS = refreshMs();
/** Namespaces charted at most (the busiest of the hour). */
const CHARTED_NAMESPACES = 6;
const COLOURS = ['#2f7ed8', '#e4572e', '#17a398', '#f3a712', '#8e44ad', '#7f8c8d', '#c0392b', '#27ae60'];

const counts = new Intl.NumberFormat('en');
const clock = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** @type {number | undefined} epoch ms of the last answer drawn */
let lastGood;
/** @type {number | undefined} epoch ms of the first failure in a row */
let failingSince;
/** @type {Map<string, number>} each tier's error count at the previous answer */
const tierErrors = new Map();

/** `?refresh=ms` on the page's URL, within reason; 2 s by default. */
function refreshMs() {
  const asked = Number(new URLSearchParams(location.search).get('refresh'));
  return Number.isFinite(asked) && asked >= 250 ? Math.min(asked, 60_000) : 2000;
}

async function poll() {
  /** @type {StatusDocument | undefined} */
  let doc;
  try {
    const res = await fetch(STATUS_URL, {
      cache: 'no-store',
      credentials: 'same-origin',
      signal: AbortSignal.timeout(Math.max(5000, REFRESH_MS * 2)),
    });
    if (!res.ok) {
      throw new Error(
        res.status === 401 || res.status === 403
          ? `the server refused the page's credentials (${res.status}): /status needs the admin scope`
          : `the server answered ${res.status}`,
      );
    }
    doc = await res.json();
  } catch (err) {
    unreachable(err instanceof Error ? err.message : String(err));
  }
  if (doc !== undefined) {
    live();
    try {
      draw(doc);
    } catch (err) {
      // The server answered: the page's own fault is not an unreachable server.
      console.error('hoard status page: could not draw /status', err);
    }
  }
  setTimeout(poll, REFRESH_MS);
}

function live() {
  lastGood = Date.now();
  failingSince = undefined;
  document.body.dataset['state'] = 'live';
  text('#state', `live · ${clock.format(lastGood)}`);
  const banner = /** @type {HTMLElement} */ (document.querySelector('#banner'));
  banner.hidden = true;
  banner.textContent = '';
}

/** @param {string} reason */
function unreachable(reason) {
  failingSince ??= Date.now();
  document.body.dataset['state'] = 'unreachable';
  text('#state', 'unreachable');
  const banner = /** @type {HTMLElement} */ (document.querySelector('#banner'));
  const why = reason === 'Failed to fetch' || reason.includes('NetworkError') ? 'no answer' : reason;
  banner.textContent =
    lastGood === undefined
      ? `Server unreachable since ${clock.format(failingSince)} (${why}): no figures yet.`
      : `Server unreachable since ${clock.format(failingSince)} (${why}). The figures below are from ${clock.format(lastGood)} and are not live.`;
  banner.hidden = false;
}

/** @param {StatusDocument} doc */
function draw(doc) {
  const { lookups, traffic, errors, store } = doc;
  field('version', `v${doc.version}`);
  field('uptime', duration(doc.uptimeSeconds));
  field('workers', doc.draining ? 'draining' : `${doc.workers} request thread${doc.workers === 1 ? '' : 's'}`);
  field('hit-rate', percent(lookups.hitRate), lookups.hitRate);
  field('hits', counts.format(lookups.hits), lookups.hits);
  field('misses', counts.format(lookups.misses), lookups.misses);
  field('requests', counts.format(traffic.requests), traffic.requests);
  field('bytes-received', bytes(traffic.bytesReceived), traffic.bytesReceived);
  field('bytes-sent', bytes(traffic.bytesSent), traffic.bytesSent);
  const bound = store.effectiveMaxBytes;
  field('store-bytes', bytes(store.bytes), store.bytes);
  field('store-bound', bound === 0 ? 'no bound' : bytes(bound), bound);
  field('store-entries', counts.format(store.entries), store.entries);
  field('store-evictions', counts.format(store.evictions), store.evictions);
  const fill = /** @type {HTMLElement} */ (document.querySelector('[data-field="store-fill"]'));
  fill.style.width = bound === 0 ? '0%' : `${Math.min(100, (100 * store.bytes) / bound).toFixed(1)}%`;
  field('errors-total', counts.format(errors.total), errors.total);
  const top = errors.causes[0];
  field('top-error', top === undefined ? 'none' : `most: ${top.cause} (${top.protocol}) × ${counts.format(top.count)}`);

  rows(
    '#protocols',
    Object.entries(lookups.protocols)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([p, c]) => ({ key: p, cells: [p, counts.format(c.hits), counts.format(c.misses), percent(c.hitRate)] })),
  );
  drawNamespaces(doc);
  rows(
    '#errors',
    errors.causes.map((e) => ({
      key: `${e.protocol} ${e.cause}`,
      cells: [e.protocol, e.cause, counts.format(e.count)],
    })),
  );
  rows(
    '#slowest',
    doc.slowest.map((r) => ({
      key: `${r.at} ${r.path}`,
      cells: [
        clock.format(new Date(r.at)),
        r.protocol,
        r.method,
        r.path,
        String(r.status),
        seconds(r.seconds),
        r.bytes === undefined ? '–' : bytes(r.bytes),
      ],
    })),
  );
  rows(
    '#tiers',
    store.tiers.map((t) => {
      const before = tierErrors.get(t.name);
      tierErrors.set(t.name, t.errors ?? 0);
      const failing = before !== undefined && (t.errors ?? 0) > before;
      return {
        key: t.name,
        cells: [
          t.name,
          t.kind,
          bytes(t.bytes),
          t.effectiveMaxBytes === 0 ? 'no bound' : bytes(t.effectiveMaxBytes),
          counts.format(t.entries),
          counts.format(t.evictions),
          t.errors === undefined ? '–' : counts.format(t.errors),
          t.pending === undefined ? '–' : counts.format(t.pending),
          t.available === false ? 'down: reads answer misses' : failing ? 'failing' : 'ok',
        ],
      };
    }),
  );
  if (doc.history !== undefined) {
    field('interval', `${doc.history.intervalSeconds} s`);
    drawCharts(doc.history.samples);
  }
}

/** Lookups per namespace beside each one's share of the store. @param {StatusDocument} doc */
function drawNamespaces(doc) {
  const usage = new Map((doc.store.namespaces ?? []).map((n) => [n.namespace, n]));
  const names = [...new Set([...doc.lookups.namespaces.map((n) => n.namespace), ...usage.keys()])];
  const lookups = new Map(doc.lookups.namespaces.map((n) => [n.namespace, n]));
  rows(
    '#namespaces',
    names.map((name) => {
      const l = lookups.get(name);
      const u = usage.get(name);
      return {
        key: name,
        cells: [
          name === '' ? '(default)' : name,
          l === undefined ? '–' : counts.format(l.hits),
          l === undefined ? '–' : counts.format(l.misses),
          l === undefined ? '–' : percent(l.hitRate),
          u === undefined ? '–' : bytes(u.bytes),
          u === undefined ? '–' : counts.format(u.entries),
          u?.quotaBytes === undefined ? '–' : bytes(u.quotaBytes),
        ],
      };
    }),
  );
}

/** @param {readonly StatusSample[]} samples */
function drawCharts(samples) {
  const xs = samples.slice(1).map((s) => s.t / 1000);
  /** Per-second rate of a running total between each sample and the one before. @param {(s: StatusSample) => number} pick */
  const rate = (pick) =>
    samples.slice(1).map((s, i) => {
      const prev = /** @type {StatusSample} */ (samples[i]);
      const dt = (s.t - prev.t) / 1000;
      const d = pick(s) - pick(prev);
      return dt > 0 && d >= 0 ? d / dt : null; // a negative step: counters restarted
    });
  /** Hit rate (%) of the lookups between neighbours. @param {(s: StatusSample) => readonly [number, number] | undefined} pick */
  const hitRate = (pick) =>
    samples.slice(1).map((s, i) => {
      const now = pick(s);
      const then = pick(/** @type {StatusSample} */ (samples[i])) ?? [0, 0];
      if (now === undefined) return null;
      const hits = now[0] - then[0];
      const all = hits + now[1] - then[1];
      return all > 0 && hits >= 0 ? (100 * hits) / all : null;
    });

  const protocols = [...new Set(samples.flatMap((s) => Object.keys(s.protocols)))].sort();
  chart('#chart-hit-rate', xs, percentAxis, [
    { label: 'all', values: hitRate((s) => [s.hits, s.misses]) },
    ...protocols.map((p) => ({ label: p, values: hitRate((s) => s.protocols[p]) })),
  ]);

  const first = /** @type {StatusSample} */ (samples[0]);
  const last = /** @type {StatusSample} */ (samples[samples.length - 1]);
  const busiest = Object.keys(last.namespaces)
    .map((n) => {
      const [h, m] = last.namespaces[n] ?? [0, 0];
      const [h0, m0] = first.namespaces[n] ?? [0, 0];
      return { n, lookups: h + m - h0 - m0 };
    })
    .sort((a, b) => b.lookups - a.lookups)
    .slice(0, CHARTED_NAMESPACES);
  chart(
    '#chart-namespaces',
    xs,
    percentAxis,
    busiest.map(({ n }) => ({ label: n === '' ? '(default)' : n, values: hitRate((s) => s.namespaces[n]) })),
  );
  const latest = (/** @type {(number | null)[]} */ values) => values.at(-1) ?? null;
  const requests = rate((s) => s.requests);
  const received = rate((s) => s.bytesReceived);
  const sent = rate((s) => s.bytesSent);
  const perSecond = latest(requests);
  field('request-rate', perSecond === null ? '–' : `${countAxis.format(perSecond)}/s`, perSecond);
  const inOut = [latest(received), latest(sent)];
  field('byte-rate', inOut.includes(null) ? '–' : `${bytes(inOut[0] ?? 0)}/s in · ${bytes(inOut[1] ?? 0)}/s out`);
  chart('#chart-requests', xs, countAxis, [
    { label: 'requests/s', values: requests },
    { label: 'failures/s', values: rate((s) => s.errors) },
  ]);
  chart('#chart-bytes', xs, byteAxis, [
    { label: 'in', values: received },
    { label: 'out', values: sent },
  ]);
  chart('#chart-store', xs, byteAxis, [
    { label: 'used', values: samples.slice(1).map((s) => s.storeBytes) },
    { label: 'bound', values: samples.slice(1).map((s) => (s.storeBound === 0 ? null : s.storeBound)) },
  ]);
  chart('#chart-evictions', xs, countAxis, [{ label: 'evictions/s', values: rate((s) => s.evictions) }]);
}

/** @typedef {{ label: string, values: (number | null)[] }} Line */
/** @typedef {{ format: (v: number) => string, size: number, range?: [number, number] }} Axis */

/** @type {Axis} */
const percentAxis = { format: (v) => `${Math.round(v)}%`, size: 48, range: [0, 100] };
/** @type {Axis} */
const countAxis = {
  format: (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v * 10) / 10)),
  size: 52,
};
/** @type {Axis} */
const byteAxis = { format: (v) => bytes(v), size: 76 };

/** @type {Map<string, { plot: uPlot, labels: string }>} */
const charts = new Map();

/**
 * Draws `lines` over `xs` in the element at `selector`: new data into the same chart, or a
 * new chart when the set of lines changed (a protocol's first lookup).
 * @param {string} selector @param {number[]} xs @param {Axis} axis @param {Line[]} lines
 */
function chart(selector, xs, axis, lines) {
  const el = /** @type {HTMLElement} */ (document.querySelector(selector));
  el.dataset['points'] = String(xs.length);
  /** @type {uPlot.AlignedData} */
  const data = [xs, ...lines.map((l) => l.values)];
  const labels = lines.map((l) => l.label).join('\n');
  const known = charts.get(selector);
  if (known !== undefined && known.labels === labels) {
    known.plot.setData(data);
    return;
  }
  known?.plot.destroy();
  const plot = new uPlot(
    {
      width: Math.max(200, el.clientWidth),
      height: 180,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: axis.range === undefined ? {} : { range: axis.range } },
      axes: [{}, { values: (_u, ticks) => ticks.map(axis.format), size: axis.size }],
      series: [
        {},
        ...lines.map((l, i) => ({
          label: l.label,
          stroke: COLOURS[i % COLOURS.length],
          width: 2,
          spanGaps: false,
          value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => (v === null ? '–' : axis.format(v)),
        })),
      ],
    },
    data,
    el,
  );
  charts.set(selector, { plot, labels });
}

// Charts follow their container's width (a phone turned sideways).
new ResizeObserver(() => {
  for (const [selector, { plot }] of charts) {
    const el = /** @type {HTMLElement} */ (document.querySelector(selector));
    plot.setSize({ width: Math.max(200, el.clientWidth), height: 180 });
  }
}).observe(document.body);

/**
 * The rows of a table's body, rewritten whole; `data-key` names each row for readers.
 * @param {string} selector @param {{ key: string, cells: string[] }[]} list
 */
function rows(selector, list) {
  const body = /** @type {HTMLTableSectionElement} */ (document.querySelector(`${selector} tbody`));
  const columns = body.closest('table')?.querySelectorAll('thead th').length ?? 1;
  const made = list.map(({ key, cells }) => {
    const tr = document.createElement('tr');
    tr.dataset['key'] = key;
    // Long cells (paths) are cut by the style; the whole value is the cell's tooltip.
    for (const c of cells) tr.append(Object.assign(document.createElement('td'), { textContent: c, title: c }));
    return tr;
  });
  if (made.length === 0) {
    const tr = document.createElement('tr');
    tr.append(
      Object.assign(document.createElement('td'), { textContent: 'none yet', colSpan: columns, className: 'none' }),
    );
    made.push(tr);
  }
  body.replaceChildren(...made);
}

/**
 * Sets every `[data-field=name]`: its text, and the raw figure in `data-value` for readers.
 * @param {string} name @param {string} shown @param {number | null} [value]
 */
function field(name, shown, value) {
  for (const el of document.querySelectorAll(`[data-field="${name}"]`)) {
    el.textContent = shown;
    if (value !== undefined) /** @type {HTMLElement} */ (el).dataset['value'] = value === null ? '' : String(value);
  }
}

/** @param {string} selector @param {string} value */
function text(selector, value) {
  const el = document.querySelector(selector);
  if (el !== null) el.textContent = value;
}

/** @param {number | null} rate */
function percent(rate) {
  return rate === null ? '–' : `${(100 * rate).toFixed(1)}%`;
}

/** @param {number} n */
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** @param {number} s */
function seconds(s) {
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`;
}

/** @param {number} s */
function duration(s) {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

void poll();
