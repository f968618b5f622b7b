// The checks every mounted protocol shares, run over its KeyedApi: entries round-trip byte
// for byte and a miss answers 404, and a wrong credential is refused the way the client
// shows it to the user (401); concurrent PUTs of one key all succeed. docs/CHECKS.md says
// why each matters to the real client.
import { randomBytes } from 'node:crypto';
import { statusText, type HttpProbe, type ProbeResponse } from './http-probe.ts';
import type { KeyedApi } from './keyed-api.ts';
import {
  fail,
  info,
  mb,
  na,
  parallel,
  pass,
  type Check,
  type CheckContext,
  type CheckOutcome,
} from './check-context.ts';

/** PUTs `bytes` under `key` as the real client does; undefined when stored, else why not. */
export async function putEntry(
  probe: HttpProbe,
  api: KeyedApi,
  key: string,
  bytes: Uint8Array,
): Promise<string | undefined> {
  const res = await probe.request('PUT', api.path(key), { headers: api.putHeaders, body: bytes });
  return api.stored(res.status) ? undefined : `PUT answered ${statusText(res)} (${api.client} takes ${api.storedText})`;
}

/** GETs `key` and compares with `bytes` (undefined: a miss is expected); undefined when right, else what was wrong. */
export async function expectEntry(
  probe: HttpProbe,
  api: KeyedApi,
  key: string,
  bytes: Uint8Array | undefined,
): Promise<string | undefined> {
  const res = await probe.request('GET', api.path(key), { headers: api.getHeaders });
  if (bytes === undefined) {
    if (res.status === 404) return undefined;
    return res.status === 200
      ? `GET of an entry never stored whole answered 200 with ${res.body.length} bytes`
      : `GET of a missing entry answered ${statusText(res)}, not 404`;
  }
  if (res.status !== 200) return `GET right after a stored PUT answered ${statusText(res)}, not 200`;
  if (!res.body.equals(bytes)) return `GET answered ${res.body.length} bytes, not the ${bytes.length} stored`;
  return undefined;
}

function roundTrip(api: KeyedApi): Check {
  return {
    id: 'round-trip',
    title: `entries PUT then GET byte for byte; a miss is 404${api.head ? ' (GET and HEAD)' : ''}`,
    async run(ctx) {
      const probe = ctx.http({ concurrency: 8 });
      const n = Math.max(4, Math.round(24 * ctx.scale));
      const entries = Array.from({ length: n }, (_, i) => ({
        key: api.newKey(),
        bytes: randomBytes(i === 0 ? 1 : 1024 + Math.floor(Math.random() * 300_000)),
      }));
      const problems: string[] = [];
      await parallel(entries, 8, async (e) => {
        const why = (await putEntry(probe, api, e.key, e.bytes)) ?? (await expectEntry(probe, api, e.key, e.bytes));
        if (why) problems.push(why);
      });
      if (problems.length) return fail(`${problems.length}/${n} entries: ${problems[0]}`);
      const missing = api.newKey();
      const miss = await expectEntry(probe, api, missing, undefined);
      if (miss) return fail(miss);
      if (api.head) {
        const hit = await probe.request('HEAD', api.path(entries[1]!.key));
        if (hit.status !== 200) return fail(`HEAD of a stored entry answered HTTP ${hit.status}, not 200`);
        const absent = await probe.request('HEAD', api.path(missing));
        if (absent.status !== 404) return fail(`HEAD of a missing entry answered HTTP ${absent.status}, not 404`);
      }
      const bytes = entries.reduce((sum, e) => sum + e.bytes.length, 0);
      return pass(`${n} entries, ${mb(bytes)} up and down, byte-exact; a miss is 404${api.head ? ', HEAD too' : ''}`);
    },
  };
}

function sameKey(api: KeyedApi, alsoStored: (status: number) => boolean): Check {
  return {
    id: 'same-key',
    title: 'concurrent PUTs of one key all succeed (as the client counts success); GET is whole',
    async run(ctx) {
      const probe = ctx.http({ concurrency: 12 });
      const key = api.newKey();
      const bytes = randomBytes(500_000);
      // Parallel tasks (or machines) uploading the same output is ordinary in a build.
      const answers = await Promise.all(
        Array.from({ length: 12 }, () => probe.request('PUT', api.path(key), { headers: api.putHeaders, body: bytes })),
      );
      const bad = answers.filter((r) => !api.stored(r.status) && !alsoStored(r.status));
      if (bad.length)
        return fail(
          `${bad.length}/12 concurrent PUTs of one key answered ${statusText(bad[0]!)} (${api.client} takes ${api.storedText})`,
        );
      if (!answers.some((r) => api.stored(r.status))) return fail('none of 12 concurrent PUTs of one key stored it');
      const back = await expectEntry(probe, api, key, bytes);
      if (back) return fail(back);
      const statuses = [...new Set(answers.map((r) => r.status))].sort().join(', ');
      return pass(`12 concurrent PUTs of one 500 kB entry: HTTP ${statuses}; read back whole`);
    },
  };
}

/** A credential the server cannot know, of the kind the flags give (else the client's own kind). */
function wrongCredential(
  ctx: CheckContext,
  api: KeyedApi,
): { token?: string; basic?: { user: string; password: string } } {
  const scheme = ctx.credentials ?? api.scheme;
  return scheme === 'Bearer'
    ? { token: `hoard-check-wrong-${randomBytes(8).toString('hex')}` }
    : { token: undefined, basic: { user: 'hoard-check', password: `wrong-${randomBytes(8).toString('hex')}` } };
}

/** How a wrong credential's request was answered; undefined when it was served (not refused). */
function refusal(
  res: ProbeResponse,
  kind: string,
  what: string,
  judge401: (res: { headers: Record<string, string> }) => string | undefined,
): CheckOutcome | undefined {
  if (res.status === 401) {
    const why = judge401(res);
    return why ? fail(why) : pass(`a wrong ${kind} credential: 401${what}`);
  }
  if (res.status === 403)
    return info(
      `a wrong ${kind} credential: 403${what} (clients read 403 as an identity without the right, not a wrong one)`,
    );
  if (res.status === 404 || (res.status >= 200 && res.status < 300)) return undefined;
  return fail(`a wrong ${kind} credential: ${statusText(res)}${what}, not 401`);
}

function authRefusal(api: KeyedApi, judge401: (res: { headers: Record<string, string> }) => string | undefined): Check {
  return {
    id: 'auth-refusal',
    title: 'a wrong credential is refused with 401, as the client shows it to the user',
    async run(ctx): Promise<CheckOutcome> {
      const wrong = wrongCredential(ctx, api);
      const kind = wrong.token === undefined ? 'Basic' : 'Bearer';
      // Without the URL's user info: it would be sent instead of the wrong Basic credential.
      const url = new URL(ctx.server);
      url.username = '';
      url.password = '';
      const probe = ctx.http(wrong, url.href);
      const read = await probe.request('GET', api.path(api.newKey()), { headers: api.getHeaders });
      const onRead = refusal(read, kind, '', judge401);
      if (onRead) return onRead;
      // Reads may be open to anyone while writes need an identity: ask for a write too.
      const write = await probe.request('PUT', api.path(api.newKey()), { headers: api.putHeaders, body: 'x' });
      const onWrite = refusal(write, kind, ` on PUT (GET is open: HTTP ${read.status})`, judge401);
      return (
        onWrite ??
        na(
          `a wrong ${kind} credential was served (GET ${read.status}, PUT ${write.status}): the server checks no credentials`,
        )
      );
    },
  };
}

export interface KeyedCheckOptions {
  /** What the client needs of a 401 besides its status (Nx: exactly text/plain); undefined when right. */
  readonly judge401?: (res: { headers: Record<string, string> }) => string | undefined;
  /** Statuses of a concurrent PUT the client takes as "someone stored it" (Nx: 409). */
  readonly alsoStored?: (status: number) => boolean;
}

/** round-trip, same-key and auth-refusal for `api`. */
export function keyedChecks(
  api: KeyedApi,
  opts: KeyedCheckOptions = {},
): { roundTrip: Check; sameKey: Check; authRefusal: Check } {
  return {
    roundTrip: roundTrip(api),
    sameKey: sameKey(api, opts.alsoStored ?? (() => false)),
    authRefusal: authRefusal(api, opts.judge401 ?? (() => undefined)),
  };
}
