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

/** After a broken upload of `key`: nothing served, then a whole PUT stores it. Undefined when so. */
async function afterBrokenUpload(
  direct: HttpProbe,
  api: KeyedApi,
  key: string,
  bytes: Uint8Array,
): Promise<string | undefined> {
  const served = await expectEntry(direct, api, key, undefined);
  if (served) return served;
  const again = await putEntry(direct, api, key, bytes);
  if (again) return `the next whole upload of the key: ${again}`;
  const back = await expectEntry(direct, api, key, bytes);
  return back && `after the next whole upload: ${back}`;
}

function cutUploads(api: KeyedApi): Check {
  return {
    id: 'cut-uploads',
    title: 'PUTs cut mid-body store nothing; the next PUT of the key stores it',
    async run(ctx): Promise<CheckOutcome> {
      if (!ctx.canProxy) return na('TLS endpoints cannot be cut by the TCP proxy');
      const n = Math.max(4, Math.round(16 * ctx.scale));
      const entries = Array.from({ length: n }, () => ({
        key: api.newKey(),
        bytes: randomBytes(100_000 + Math.floor(Math.random() * 300_000)),
      }));
      // Each connection carries one PUT and is cut after its head (under 4 KB) and before
      // its last body byte.
      const { proxy, url } = await ctx.proxy({
        cutDirection: 'upstream',
        cutAfterBytes: () => 4096 + Math.floor(Math.random() * 90_000),
      });
      const direct = ctx.http();
      const problems: string[] = [];
      let acknowledged = 0;
      await parallel(entries, 4, async (e) => {
        const cut = ctx.http({ concurrency: 1 }, url);
        const status = await cut
          .request('PUT', api.path(e.key), { headers: api.putHeaders, body: e.bytes })
          .then((r) => r.status)
          .catch(() => undefined);
        await ctx.release(cut);
        if (status !== undefined && api.stored(status)) acknowledged++;
        await sleep(50); // let the server notice the broken connection
        const why = await afterBrokenUpload(direct, api, e.key, e.bytes).catch((err: unknown) => errorText(err));
        if (why) problems.push(why);
      });
      if (problems.length) return fail(`${problems.length}/${n} cut uploads: ${problems[0]}`);
      if (acknowledged) return fail(`${acknowledged}/${n} PUTs acknowledged although the server never got every byte`);
      return pass(`${n} PUTs cut mid-body (${proxy.stats.cuts} cuts): none stored, each next PUT stored whole`);
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
      for (let i = 0; i < n; i++) {
        const key = api.newKey();
        const bytes = randomBytes(200_000);
        const raw = await direct.raw();
        let answer;
        try {
          await raw.writeHead('PUT', direct.path(api.path(key)), { ...api.putHeaders, 'content-length': bytes.length });
          await raw.write(bytes.subarray(0, 100_000));
          raw.end(); // the request stream ends 100 000 bytes early
          answer = await raw.readFinal(5000);
        } finally {
          raw.destroy();
        }
        if (answer && api.stored(answer.status))
          return fail(`a PUT that sent 100000 of its 200000 declared bytes was acknowledged (HTTP ${answer.status})`);
        answers.push(answer ? `HTTP ${answer.status}` : 'closed');
        await sleep(50);
        const why = await afterBrokenUpload(direct, api, key, bytes);
        if (why) return fail(`after a short body: ${why}`);
      }
      const seen = [...new Set(answers)].join(', ');
      return pass(
        `${n} PUTs declaring 200000 bytes, sending 100000 then ending: ${seen}; none stored, next PUT stored`,
      );
    },
  };
}

export function uploadCutChecks(api: KeyedApi): readonly Check[] {
  return [cutUploads(api), shortBody(api)];
}
