// The checks of `hoard check --protocol gradle`: Gradle's HTTP build cache as its client
// (HttpBuildCacheService) uses it. Point --server at the cache URL of the build script's
// `remote(HttpBuildCache) { url = ... }`; credentials as user:password in the URL (Gradle
// sends Basic only). Gradle disables its remote cache for the rest of the build on most
// error statuses, and some (400, 401, 403, 405, 411, 417...) fail the build.
import { randomBytes } from 'node:crypto';
import { fail, pass, unsupported, type Check, type CheckOutcome } from './check-context.ts';
import { gradleApi as api } from './keyed-api.ts';
import { expectEntry, keyedChecks } from './keyed-checks.ts';
import { uploadCutChecks } from './upload-cut-checks.ts';

/** Larger than any cache entry limit: one tebibyte. */
const HUGE = 2 ** 40;

const oversize: Check = {
  id: 'oversize',
  title: 'a PUT declaring more than the entry limit is refused with 413 before its body',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const key = api.newKey();
    const raw = await probe.raw();
    let answer;
    try {
      // Gradle's useExpectContinue: the server can refuse on the head alone.
      await raw.writeHead('PUT', probe.path(api.path(key)), {
        ...api.putHeaders,
        'content-length': HUGE,
        expect: '100-continue',
      });
      answer = await raw.read(3000);
    } finally {
      raw.destroy();
    }
    if (answer === undefined || answer.status === 100)
      return unsupported(
        `${answer ? '100 Continue' : 'no answer (3 s)'} to a PUT declaring 1 TiB: the server states no entry limit up front`,
      );
    if (answer.status === 413) {
      const miss = await expectEntry(probe, api, key, undefined);
      return miss ? fail(`413, but then ${miss}`) : pass('413 on the head of a 1 TiB PUT (Gradle tolerates 413)');
    }
    return fail(
      `HTTP ${answer.status} to a PUT declaring 1 TiB, not 413: Gradle disables its remote cache for the rest of the build${answer.status >= 400 && answer.status < 500 ? ' or fails it' : ''}`,
    );
  },
};

const expectContinue: Check = {
  id: 'expect-continue',
  title: 'a PUT with Expect: 100-continue (Gradle useExpectContinue) is stored',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const key = api.newKey();
    const bytes = randomBytes(50_000);
    const raw = await probe.raw();
    let interim;
    let answer;
    try {
      await raw.writeHead('PUT', probe.path(api.path(key)), {
        ...api.putHeaders,
        'content-length': bytes.length,
        expect: '100-continue',
      });
      interim = await raw.read(2000);
      if (interim && interim.status >= 200) {
        answer = interim;
      } else {
        // No 100 within the wait: the body goes anyway, as a client that waited long enough sends it.
        await raw.write(bytes);
        answer = await raw.readFinal(10_000);
      }
    } finally {
      raw.destroy();
    }
    if (!answer) return fail('no answer to the PUT');
    if (!api.stored(answer.status))
      return fail(`HTTP ${answer.status}${answer.status === 417 ? ' (417 fails a Gradle build)' : ''}`);
    const back = await expectEntry(probe, api, key, bytes);
    if (back) return fail(back);
    return pass(
      `${interim ? '100 Continue, then' : 'no 100 Continue (the body was sent after 2 s), then'} HTTP ${answer.status}; stored`,
    );
  },
};

export function gradleChecks(): readonly Check[] {
  const { roundTrip, sameKey, authRefusal } = keyedChecks(api);
  return [roundTrip, oversize, expectContinue, sameKey, ...uploadCutChecks(api), authRefusal];
}
