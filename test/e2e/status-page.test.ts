// End-to-end: the status page in a real browser. Debian's headless Chromium, driven by
// playwright-core (no browser download), opens the page of a server that served a scripted
// workload (puts, hits, misses, a refused upload, evictions) and every figure the page shows
// must be /status's. It keeps a screenshot (test-artifacts/, or $HOARD_TEST_ARTIFACTS), checks
// that a phone-sized window needs no sideways scrolling, and that when the page's requests
// fail, or the server stops, it says the server is unreachable instead of showing its last
// figures as live.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/spawn-server.ts';
import { sha256, startTestServer, type TestServer } from '../helpers/test-server.ts';
import { findClient } from './clients.ts';

const CHROMIUM = process.env['HOARD_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const chromiumCheck = findClient(CHROMIUM, ['--version'], 'apt-get install chromium');
const ARTIFACTS = process.env['HOARD_TEST_ARTIFACTS'] ?? join(REPO_ROOT, 'test-artifacts');
/** Flags for a headless Chromium on a machine with no network but loopback. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The page polls this often (ms) in the test, instead of every 2 s. */
const REFRESH = 250;
const BLOB = 700 * 1024;

interface StatusNow {
  lookups: {
    hits: number;
    misses: number;
    hitRate: number | null;
    protocols: Record<string, { hits: number; misses: number }>;
    namespaces: { namespace: string; hits: number; misses: number }[];
  };
  traffic: { requests: number; bytesReceived: number; bytesSent: number };
  errors: { total: number; causes: { protocol: string; cause: string; count: number }[] };
  store: { bytes: number; effectiveMaxBytes: number; entries: number; evictions: number };
  slowest: unknown[];
}

/** Puts, hits, misses, a refused upload and evictions, over two protocols and two namespaces. */
async function workload(url: string): Promise<void> {
  const send = async (path: string, init?: RequestInit): Promise<number> => {
    const res = await fetch(`${url}${path}`, init);
    await res.arrayBuffer();
    return res.status;
  };
  // Four 700 KiB blobs into a 2 MiB store: the oldest are evicted.
  for (let i = 0; i < 4; i++) {
    const blob = Buffer.alloc(BLOB, i + 1);
    assert.equal(await send(`/main/cas/${sha256(blob)}`, { method: 'PUT', body: blob }), 200);
    assert.equal(await send(`/main/cas/${sha256(blob)}`), 200);
  }
  assert.equal(await send(`/main/cas/${sha256('never stored')}`), 404);
  for (let i = 0; i < 5; i++) {
    const hash = sha256(`nx ${i}`).slice(0, 32);
    assert.equal(await send(`/v1/cache/${hash}`, { method: 'PUT', body: `output ${i}` }), 200);
    assert.equal(await send(`/v1/cache/${hash}`), 200);
    assert.equal(await send(`/v1/cache/${sha256(`absent ${i}`).slice(0, 32)}`), 404);
  }
  // A body that is not what its digest names: refused, counted by its cause.
  assert.equal(await send(`/main/cas/${sha256('claimed')}`, { method: 'PUT', body: 'other' }), 400);
}

async function statusOf(url: string): Promise<StatusNow> {
  return (await (await fetch(`${url}/status`)).json()) as StatusNow;
}

/** A `[data-field]`'s raw figure as the page holds it. */
async function fieldValue(page: Page, name: string): Promise<number | null> {
  const value = await page.locator(`[data-field="${name}"]`).first().getAttribute('data-value');
  return value === null || value === '' ? null : Number(value);
}

/** The cells of a table's rows, by each row's data-key. */
async function tableRows(page: Page, table: string): Promise<Map<string, string[]>> {
  const rows = await page
    .locator(`#${table} tbody tr[data-key]`)
    .evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute('data-key') ?? '', [...tr.querySelectorAll('td')].map((td) => td.textContent)]),
    );
  return new Map(rows as [string, string[]][]);
}

describe('the status page in headless Chromium', { skip: chromiumCheck.skip }, () => {
  let hoard: TestServer;
  let browser: Browser;

  before(async () => {
    hoard = await startTestServer({ maxSize: '2MiB' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    await workload(hoard.url);
  });

  after(async () => {
    await browser?.close();
    await hoard?.close();
  });

  test("every figure on the page is /status's, and a screenshot is kept", async (t) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(`${hoard.url}/?refresh=${REFRESH}`);
    await page.waitForSelector('body[data-state="live"]');
    const status = await statusOf(hoard.url);
    // The workload is over and the page's own polls are not counted: the figures are still.
    await page.waitForFunction(
      `document.querySelector('[data-field="requests"]')?.getAttribute('data-value') === '${status.traffic.requests}'`,
    );
    assert.ok(status.store.evictions > 0, 'the workload evicted entries');
    const expected: Record<string, number | null> = {
      'hit-rate': status.lookups.hitRate,
      hits: status.lookups.hits,
      misses: status.lookups.misses,
      requests: status.traffic.requests,
      'bytes-received': status.traffic.bytesReceived,
      'bytes-sent': status.traffic.bytesSent,
      'store-bytes': status.store.bytes,
      'store-bound': status.store.effectiveMaxBytes,
      'store-entries': status.store.entries,
      'store-evictions': status.store.evictions,
      'errors-total': status.errors.total,
    };
    for (const [name, value] of Object.entries(expected)) {
      assert.equal(await fieldValue(page, name), value, `the page's ${name}`);
    }
    assert.equal(status.lookups.hits, 9);
    assert.equal(status.lookups.misses, 6);
    assert.equal(await page.locator('[data-field="hit-rate"]').textContent(), '60.0%');

    const protocols = await tableRows(page, 'protocols');
    for (const [protocol, counts] of Object.entries(status.lookups.protocols)) {
      assert.deepEqual(protocols.get(protocol)?.slice(1, 3), [String(counts.hits), String(counts.misses)], protocol);
    }
    const namespaces = await tableRows(page, 'namespaces');
    for (const n of status.lookups.namespaces) {
      assert.deepEqual(namespaces.get(n.namespace)?.slice(1, 3), [String(n.hits), String(n.misses)], n.namespace);
    }
    const errors = await tableRows(page, 'errors');
    assert.deepEqual(errors.get('bazel-http digest_mismatch'), ['bazel-http', 'digest_mismatch', '1']);
    assert.equal((await tableRows(page, 'slowest')).size, status.slowest.length);
    assert.ok(status.slowest.length > 0);
    assert.equal((await tableRows(page, 'tiers')).get('disk')?.at(-1), 'ok');
    // Every chart is drawn over the history (one sample at start, one now at least).
    for (const chart of ['hit-rate', 'namespaces', 'requests', 'bytes', 'store', 'evictions']) {
      assert.equal(await page.locator(`#chart-${chart} canvas`).count(), 1, `chart ${chart}`);
      assert.ok(Number(await page.locator(`#chart-${chart}`).getAttribute('data-points')) >= 1, `chart ${chart}`);
    }
    assert.deepEqual(problems, [], 'no script error and no failed request');

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = await readFile(shot);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    t.diagnostic(`screenshot: ${shot} (${png.byteLength} bytes)`);
    await page.close();
  });

  test('on a phone the page needs no sideways scrolling', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await page.goto(`${hoard.url}/?refresh=${REFRESH}`);
    await page.waitForSelector('body[data-state="live"]');
    const { scroll, width } = (await page.evaluate(
      '({ scroll: document.documentElement.scrollWidth, width: window.innerWidth })',
    )) as { scroll: number; width: number };
    assert.ok(scroll <= width, `the page is ${scroll} px wide in a ${width} px window`);
    await page.close();
  });

  test('when its requests fail, the page says the server is unreachable and greys the old figures', async () => {
    const page = await browser.newPage();
    await page.goto(`${hoard.url}/?refresh=${REFRESH}`);
    await page.waitForSelector('body[data-state="live"]');
    await page.route('**/status?history', (route) => route.abort('connectionrefused'));
    await page.waitForSelector('body[data-state="unreachable"]');
    const banner = page.locator('#banner');
    assert.ok(await banner.isVisible());
    assert.match((await banner.textContent()) ?? '', /^Server unreachable since .*not live\.$/);
    assert.equal(await page.locator('#state').textContent(), 'unreachable');
    assert.equal(await page.evaluate("getComputedStyle(document.querySelector('main')).opacity"), '0.45');
    // Back to live once the server answers again.
    await page.unroute('**/status?history');
    await page.waitForSelector('body[data-state="live"]');
    assert.ok(!(await banner.isVisible()));
    await page.close();
  });

  test('a page that never reached the server shows no figures at all', async () => {
    const page = await browser.newPage();
    await page.route('**/status?history', (route) => route.abort('connectionrefused'));
    await page.goto(`${hoard.url}/?refresh=${REFRESH}`);
    await page.waitForSelector('body[data-state="unreachable"]');
    assert.match((await page.locator('#banner').textContent()) ?? '', /unreachable .*no figures yet/);
    assert.equal(await page.locator('[data-field="requests"]').textContent(), '–');
    assert.equal(await fieldValue(page, 'requests'), null);
    await page.close();
  });

  test('a stopped server is reported unreachable by an open page', async () => {
    const spare = await startTestServer();
    const page = await browser.newPage();
    try {
      await page.goto(`${spare.url}/?refresh=${REFRESH}`);
      await page.waitForSelector('body[data-state="live"]');
      await spare.server.shutdown(1000);
      await page.waitForSelector('body[data-state="unreachable"]');
      assert.match((await page.locator('#banner').textContent()) ?? '', /not live/);
    } finally {
      await page.close();
      await spare.close();
    }
  });
});
