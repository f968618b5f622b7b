// The checks of `hoard check --protocol turbo`: the Turborepo remote cache API as turbo
// (2.x) uses it. Point --server at what turbo's --api gets (the client appends /v8/...);
// --token is turbo's --token, --team its --team (sent as ?slug=).
import { randomBytes, randomUUID } from 'node:crypto';
import { fail, info, pass, unsupported, type Check, type CheckOutcome } from './check-context.ts';
import { statusText, type ProbeResponse } from './http-probe.ts';
import { teamQuery, turboApi } from './keyed-api.ts';
import { keyedChecks } from './keyed-checks.ts';
import { uploadCutChecks } from './upload-cut-checks.ts';

/** 404, 405 and 501: the server has no such endpoint. */
const absent = (res: ProbeResponse): boolean => res.status === 404 || res.status === 405 || res.status === 501;

function json(res: ProbeResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function turboChecks(team: string): readonly Check[] {
  const api = turboApi(team);
  const { roundTrip, sameKey, authRefusal } = keyedChecks(api);
  const artifactMetadata: Check = {
    id: 'artifact-metadata',
    title: 'x-artifact-tag comes back on GET, x-artifact-duration on GET and HEAD',
    async run(ctx): Promise<CheckOutcome> {
      const probe = ctx.http();
      const key = api.newKey();
      // The tag is what turbo's signing sends (base64 of an HMAC): it must come back byte for byte.
      const tag = randomBytes(32).toString('base64');
      const put = await probe.request('PUT', api.path(key), {
        headers: { ...api.putHeaders, 'x-artifact-duration': '4321', 'x-artifact-tag': tag },
        body: randomBytes(5000),
      });
      if (!api.stored(put.status)) return fail(`PUT answered ${statusText(put)}`);
      const lacks: string[] = [];
      let tagLost = false;
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await probe.request(method, api.path(key));
        if (res.status !== 200) return fail(`${method} of the artifact answered HTTP ${res.status}`);
        if (res.headers['x-artifact-duration'] !== '4321')
          lacks.push(`${method} x-artifact-duration ${res.headers['x-artifact-duration'] ?? 'missing'}`);
        if (res.headers['x-artifact-tag'] !== tag) {
          lacks.push(`${method} x-artifact-tag ${res.headers['x-artifact-tag'] === undefined ? 'missing' : 'differs'}`);
          // turbo verifies the tag of a download; its HEAD reads only the duration.
          if (method === 'GET') tagLost = true;
        }
      }
      if (tagLost) return fail(`${lacks.join(', ')} (turbo with signing on refuses every hit whose GET lacks its tag)`);
      if (lacks.length) return info(`${lacks.join(', ')} (turbo then reports 0 ms saved; hits still work)`);
      return pass('duration and tag returned byte for byte on GET and HEAD');
    },
  };
  const batchQuery: Check = {
    id: 'batch-query',
    title: 'POST /v8/artifacts answers which hashes exist, with size and duration',
    async run(ctx): Promise<CheckOutcome> {
      const probe = ctx.http();
      const present = api.newKey();
      const missing = api.newKey();
      const bytes = randomBytes(7777);
      const put = await probe.request('PUT', api.path(present), {
        headers: { ...api.putHeaders, 'x-artifact-duration': '1234' },
        body: bytes,
      });
      if (!api.stored(put.status)) return fail(`PUT answered ${statusText(put)}`);
      const res = await probe.request('POST', `v8/artifacts${teamQuery(team)}`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hashes: [present, missing] }),
      });
      if (absent(res)) return unsupported(`HTTP ${res.status}: turbo falls back to one HEAD per artifact`);
      if (res.status !== 200) return fail(`answered ${statusText(res)}, not 200`);
      const body = json(res) as Record<string, { size?: unknown; taskDurationMs?: unknown } | null> | undefined;
      if (typeof body !== 'object' || body === null) return fail(`not a JSON object: ${res.text}`);
      const hit = body[present];
      if (typeof hit !== 'object' || hit === null || 'error' in hit)
        return fail(`the stored artifact is answered ${JSON.stringify(hit)}: turbo takes it for a miss`);
      const miss = body[missing];
      if (miss !== null && miss !== undefined && !(typeof miss === 'object' && 'error' in miss))
        return fail(`a missing artifact is answered ${JSON.stringify(miss)}, not null`);
      const seen = `present: {size ${JSON.stringify(hit.size)}, taskDurationMs ${JSON.stringify(hit.taskDurationMs)}}; missing: ${JSON.stringify(miss ?? null)}`;
      // Existence is what turbo acts on; size and duration only feed its reports.
      if (hit.size !== bytes.length || hit.taskDurationMs !== 1234)
        return info(`${seen}, expected size ${bytes.length} and taskDurationMs 1234`);
      return pass(seen);
    },
  };
  const status: Check = {
    id: 'status',
    title: 'GET /v8/artifacts/status answers {"status":"enabled"}',
    async run(ctx): Promise<CheckOutcome> {
      const res = await ctx.http().request('GET', `v8/artifacts/status${teamQuery(team)}`);
      if (res.status !== 200) return fail(`answered ${statusText(res)} (turbo asks it before using the cache)`);
      const s = (json(res) as { status?: unknown } | undefined)?.status;
      return s === 'enabled'
        ? pass('{"status":"enabled"}')
        : fail(`status ${JSON.stringify(s)}: turbo uses the cache only when it is "enabled"`);
    },
  };
  const events: Check = {
    id: 'events',
    title: 'POST /v8/artifacts/events (hit and miss analytics) is accepted',
    async run(ctx): Promise<CheckOutcome> {
      const event = { sessionId: randomUUID(), source: 'REMOTE', event: 'HIT', hash: api.newKey(), duration: 10 };
      const res = await ctx.http().request('POST', `v8/artifacts/events${teamQuery(team)}`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([event]),
      });
      if (res.status >= 200 && res.status < 300) return pass(`HTTP ${res.status}`);
      if (absent(res)) return unsupported(`HTTP ${res.status}: turbo's analytics are dropped (no effect on builds)`);
      // turbo ignores a failed analytics post: no build depends on it.
      return info(`${statusText(res)}: turbo's analytics are dropped (no effect on builds)`);
    },
  };
  return [roundTrip, artifactMetadata, batchQuery, status, events, sameKey, ...uploadCutChecks(api), authRefusal];
}
