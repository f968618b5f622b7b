// Broken uploads of the mounted protocols, over their KeyedApi. A cache must publish an entry
// only once its whole body arrived (rule 3, docs/CORRECTNESS.md#origin-closed-before-complete):
// a truncated artifact served under its key fails every build that restores it, and for Nx
// it is served for ever, since later PUTs of the key get 409. And a broken upload must leave
// nothing behind that refuses the client's next, whole PUT of the same key.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText, fail, na, parallel, pass, type Check, type CheckOutcome } from './check-context.ts';
import type { HttpProbe } from './http-probe.ts';
import type { KeyedApi } from './keyed-api.ts';
import { expectEntry, putEntry } from './keyed-checks.ts';

/**
 * After a broken upload of `key`: nothing served; for `retry`, a whole PUT of the key then
 * stores it. Undefined when so.
 */
async function afterBrokenUpload(
  direct: HttpProbe,
  api: KeyedApi,
  key: string,
  bytes: Uint8Array,
  retry: boolean,
): Promise<string | undefined> {
  const served = await expectEntry(direct, api, key, undefined);
  if (served || !retry) return served;
  const again = await putEntry(direct, api, key, bytes);
  if (again) return `the next whole upload of the key: ${again}`;
  const back = await expectEntry(direct, api, key, bytes);
  return back && `after the next whole upload: ${back}`;
}

/**
 * The keys never uploaded again, read once more after every broken upload is over: a server
 * that publishes what arrived when it gets round to the broken connection, later than the
 * first read, is caught here.
 */
async function stillAbsent(direct: HttpProbe, api: KeyedApi, keys: readonly string[]): Promise<string | undefined> {
  for (const key of keys) {
    const served = await expectEntry(direct, api, key, undefined);
    if (served) return `later: ${served}`;
  }
  return undefined;
}

function cutUploads(api: KeyedApi): Check {
  return {
    id: 'cut-uploads',
    title: 'PUTs cut mid-body store nothing, then or later; the next PUT of the key stores it',
    async run(ctx): Promise<CheckOutcome> {
      if (!ctx.canProxy) return na('TLS endpoints cannot be cut by the TCP proxy');
      const n = Math.max(4, Math.round(16 * ctx.scale));
      const entries = Array.from({ length: n }, (_, i) => ({
        key: api.newKey(),
        bytes: randomBytes(100_000 + Math.floor(Math.random() * 300_000)),
        retry: i % 2 === 0,
      }));
      // Each connection carries one PUT and is cut after its head (under 4 KB) and before
      // its last body byte.
      const { proxy, url } = await ctx.proxy({
        cutDirection: 'upstream',
        cutAfterBytes: () => 4096 + Math.floor(Math.random() * 90_000),
      });
      const direct = ctx.http();
      const problems: string[] = [];
      const answered: number[] = [];
      await parallel(entries, 4, async (e) => {
        const cut = ctx.http({ concurrency: 1 }, url);
        const status = await cut
          .request('PUT', api.path(e.key), { headers: api.putHeaders, body: e.bytes })
          .then((r) => r.status)
          .catch(() => undefined);
        await ctx.release(cut);
        if (status !== undefined) answered.push(status);
        // The server learns of the cut by a reset that may still be in flight: give it a moment.
        await sleep(50);
        const why = await afterBrokenUpload(direct, api, e.key, e.bytes, e.retry).catch((err: unknown) =>
          errorText(err),
        );
        if (why) problems.push(why);
      });
      const late = await stillAbsent(
        direct,
        api,
        entries.filter((e) => !e.retry).map((e) => e.key),
      );
      if (late) problems.push(late);
      if (problems.length) return fail(`${problems.length}/${n} cut uploads: ${problems[0]}`);
      const acknowledged = answered.filter((s) => api.stored(s)).length;
      if (acknowledged) return fail(`${acknowledged}/${n} PUTs acknowledged although the server never got every byte`);
      // An answer before the cut (a refusal on the head) means that upload tested nothing.
      if (proxy.stats.cuts < n)
        return fail(
          `${n - proxy.stats.cuts}/${n} PUTs were answered before their body was cut (HTTP ${answered.join(', ')})`,
        );
      return pass(`${n} PUTs cut mid-body: none stored, then or later; each next PUT stored whole`);
    },
  };
}

function shortBody(api: KeyedApi): Check {
  return {
    id: 'short-body',
    title: 'a body shorter than its Content-Length stores nothing; the next PUT of the key stores it',
    async run(ctx): Promise<CheckOutcome> {
      const direct = ctx.http();
      const n = 3;
      const answers: string[] = [];
      const keys: string[] = [];
      for (let i = 0; i < n; i++) {
        const key = api.newKey();
        const bytes = randomBytes(200_000);
        const raw = await direct.raw();
        let answer;
        try {
          await raw.writeHead('PUT', direct.path(api.path(key)), { ...api.putHeaders, 'content-length': bytes.length });
          // A server may refuse and close before the body is sent: its answer is still read.
          await raw.write(bytes.subarray(0, 100_000)).catch(() => undefined);
          raw.end(); // the request stream ends 100 000 bytes early
          answer = await raw.readFinal(5000);
        } finally {
          raw.destroy();
        }
        if (answer && api.stored(answer.status))
          return fail(`a PUT that sent 100000 of its 200000 declared bytes was acknowledged (HTTP ${answer.status})`);
        answers.push(answer ? `HTTP ${answer.status}` : 'closed');
        keys.push(key);
        await sleep(50);
        const why = await afterBrokenUpload(direct, api, key, bytes, i === 0);
        if (why) return fail(`after a short body: ${why}`);
      }
      const late = await stillAbsent(direct, api, keys.slice(1));
      if (late) return fail(`after a short body: ${late}`);
      const seen = [...new Set(answers)].join(', ');
      return pass(
        `${n} PUTs declaring 200000 bytes, sending 100000 then ending: ${seen}; none stored, then or later; the next PUT stored`,
      );
    },
  };
}

export function uploadCutChecks(api: KeyedApi): readonly Check[] {
  return [cutUploads(api), shortBody(api)];
}
