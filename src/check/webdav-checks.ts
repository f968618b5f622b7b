// The checks of `hoard check --protocol webdav`: WebDAV as sccache's backend (OpenDAL) uses
// it. Point --server at SCCACHE_WEBDAV_ENDPOINT; credentials as user:password in the URL
// (SCCACHE_WEBDAV_USERNAME/PASSWORD) or --token (SCCACHE_WEBDAV_TOKEN). Every sccache write
// walks PROPFIND (Depth 0) up the key's parents, MKCOLs what is missing, then PUTs; its
// start-up probe writes `.sccache_check`, and if that write fails for any reason sccache
// silently runs read-only for the whole process.
import { randomBytes } from 'node:crypto';
import { fail, pass, type Check, type CheckOutcome } from './check-context.ts';
import { statusText, type HttpProbe, type ProbeResponse } from './http-probe.ts';
import { webdavApi as api } from './keyed-api.ts';
import { expectEntry, keyedChecks, putEntry } from './keyed-checks.ts';
import { uploadCutChecks } from './upload-cut-checks.ts';

const ALLPROP = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';

function propfind(probe: HttpProbe, path: string): Promise<ProbeResponse> {
  return probe.request('PROPFIND', path, {
    headers: { depth: '0', 'content-type': 'application/xml' },
    body: ALLPROP,
  });
}

/** Undefined when `res` is the multistatus OpenDAL can read for a collection (or a file), else what is wrong. */
function multistatusProblem(res: ProbeResponse, collection: boolean): string | undefined {
  if (res.status !== 207) return `PROPFIND answered ${statusText(res)}, not 207`;
  const xml = res.body.toString('utf8');
  if (!/<([\w-]+:)?multistatus[\s>]/.test(xml)) return 'the 207 body is not a multistatus document';
  if (!/<([\w-]+:)?getlastmodified[\s>]/.test(xml)) return 'the 207 body has no getlastmodified (OpenDAL requires it)';
  if (collection && !/<([\w-]+:)?collection\s*\/?>/.test(xml)) return 'the collection is not marked <collection/>';
  return undefined;
}

const propfindCheck: Check = {
  id: 'propfind',
  title: 'PROPFIND (Depth 0) answers 207 with getlastmodified; a missing path 404',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const root = multistatusProblem(await propfind(probe, ''), true);
    if (root) return fail(`the endpoint: ${root}`);
    const key = api.newKey();
    const missing = await propfind(probe, key);
    if (missing.status !== 404) return fail(`PROPFIND of a missing path answered ${statusText(missing)}, not 404`);
    const stored = await putEntry(probe, api, key, randomBytes(100));
    if (stored) return fail(stored);
    const file = multistatusProblem(await propfind(probe, key), false);
    return file ? fail(`a stored file: ${file}`) : pass('207 multistatus with getlastmodified; 404 for a missing path');
  },
};

const mkcol: Check = {
  id: 'mkcol',
  title: 'MKCOL of a new collection answers 201, of an existing one 405',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const dir = `${api.newKey()}/`;
    const first = await probe.request('MKCOL', dir);
    if (first.status !== 201) return fail(`MKCOL of a new collection answered ${statusText(first)}, not 201`);
    const again = await probe.request('MKCOL', dir);
    if (again.status !== 405)
      return fail(`MKCOL of an existing collection answered ${statusText(again)}, not 405 (OpenDAL takes 201 or 405)`);
    const listed = multistatusProblem(await propfind(probe, dir), true);
    if (listed) return fail(`the new collection: ${listed}`);
    const inside = randomBytes(1000);
    const why =
      (await putEntry(probe, api, `${dir}entry`, inside)) ?? (await expectEntry(probe, api, `${dir}entry`, inside));
    return why ? fail(`an entry in the new collection: ${why}`) : pass('201, then 405; the collection holds an entry');
  },
};

const sccacheProbe: Check = {
  id: 'sccache-probe',
  title: "sccache's start-up probe: GET then PUT of .sccache_check succeed",
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const before = await probe.request('GET', '.sccache_check');
    if (before.status !== 200 && before.status !== 404)
      return fail(`GET .sccache_check answered ${statusText(before)} (sccache takes 200 or 404)`);
    const bytes = Buffer.from(`hoard check ${randomBytes(8).toString('hex')}`);
    const stored = await putEntry(probe, api, '.sccache_check', bytes);
    if (stored) return fail(`${stored}: sccache would silently run read-only`);
    const back = await expectEntry(probe, api, '.sccache_check', bytes);
    return back ? fail(back) : pass(`GET ${before.status}, PUT stored, read back`);
  },
};

/**
 * One sccache write of `key` (OpenDAL's order): PROPFIND up the three parents while 404,
 * MKCOL down the missing ones, PUT, then a GET to compare. The number of collections it
 * created, or what went wrong.
 */
async function sccacheWrite(probe: HttpProbe, key: string, bytes: Uint8Array): Promise<number | string> {
  const parents = [1, 2, 3].map((depth) => `${key.slice(0, depth).split('').join('/')}/`);
  const missing: string[] = [];
  for (const dir of [...parents].reverse()) {
    const res = await propfind(probe, dir);
    if (res.status === 404) {
      missing.unshift(dir);
      continue;
    }
    const why = multistatusProblem(res, true);
    if (why) return `PROPFIND ${dir}: ${why}`;
    break;
  }
  let created = 0;
  for (const dir of missing) {
    const res = await probe.request('MKCOL', dir);
    if (res.status !== 201 && res.status !== 405) return `MKCOL ${dir} answered ${statusText(res)}`;
    if (res.status === 201) created++;
  }
  const path = `${parents[2]}${key}`;
  return (await putEntry(probe, api, path, bytes)) ?? (await expectEntry(probe, api, path, bytes)) ?? created;
}

const sccacheWriteCheck: Check = {
  id: 'sccache-write',
  title: "sccache's write of <k0>/<k1>/<k2>/<key>: PROPFIND up, MKCOL down, PUT, GET",
  async run(ctx): Promise<CheckOutcome> {
    const r = await sccacheWrite(ctx.http(), randomBytes(32).toString('hex'), randomBytes(30_000));
    return typeof r === 'string' ? fail(r) : pass(`${r} collections created, entry stored and read back`);
  },
};

/** Three letters no hex key starts with, so the parents are new: their MKCOLs race. */
function freshParents(): string {
  return Array.from({ length: 3 }, () => String.fromCharCode(0x67 + Math.floor(Math.random() * 20))).join('');
}

const sccacheParallel: Check = {
  id: 'sccache-parallel',
  title: 'parallel sccache writes under the same new parents (racing PROPFIND/MKCOL) all succeed',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http({ concurrency: 12 });
    const prefix = freshParents();
    // Parallel compiles whose keys share their first three characters, as happens daily.
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        sccacheWrite(probe, `${prefix}${randomBytes(30).toString('hex')}`, randomBytes(20_000)),
      ),
    );
    const problems = results.filter((r): r is string => typeof r === 'string');
    if (problems.length) return fail(`${problems.length}/12 parallel writes: ${problems[0]}`);
    const created = results.reduce<number>((sum, r) => sum + (r as number), 0);
    return pass(
      `12 parallel writes under ${prefix.split('').join('/')}/: ${created} MKCOLs answered 201, the rest 405`,
    );
  },
};

const rangeRead: Check = {
  id: 'range-read',
  title: 'a GET with Range answers 206 with exactly those bytes',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const key = api.newKey();
    const bytes = randomBytes(100_000);
    const stored = await putEntry(probe, api, key, bytes);
    if (stored) return fail(stored);
    for (const [range, from, to] of [
      ['bytes=1000-4999', 1000, 5000],
      ['bytes=99000-', 99_000, 100_000],
    ] as const) {
      const res = await probe.request('GET', api.path(key), { headers: { range } });
      if (res.status !== 206) return fail(`Range: ${range} answered ${statusText(res)}, not 206`);
      if (!res.body.equals(bytes.subarray(from, to)))
        return fail(`Range: ${range} answered ${res.body.length} bytes that are not bytes ${from}-${to - 1}`);
      const expected = `bytes ${from}-${to - 1}/${bytes.length}`;
      if (res.headers['content-range'] !== expected)
        return fail(`Range: ${range}: Content-Range ${res.headers['content-range'] ?? 'missing'}, not ${expected}`);
    }
    return pass('206 with the right bytes and Content-Range, for a middle and a tail');
  },
};

export function webdavChecks(): readonly Check[] {
  const { roundTrip, sameKey, authRefusal } = keyedChecks(api);
  return [
    roundTrip,
    propfindCheck,
    mkcol,
    sccacheProbe,
    sccacheWriteCheck,
    sccacheParallel,
    rangeRead,
    sameKey,
    ...uploadCutChecks(api),
    authRefusal,
  ];
}
