// The checks of `hoard check --protocol nx`: Nx's self-hosted remote cache API as the Nx
// client (20.8 and later) uses it. Point --server at NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
// --token is NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN. Nx ends the whole run on any status
// it does not expect, so the exact statuses matter more here than for any other client.
import { randomBytes } from 'node:crypto';
import { fail, pass, type Check, type CheckOutcome } from './check-context.ts';
import { statusText } from './http-probe.ts';
import { nxApi as api } from './keyed-api.ts';
import { expectEntry, keyedChecks, putEntry } from './keyed-checks.ts';
import { uploadCutChecks } from './upload-cut-checks.ts';

const rePut: Check = {
  id: 're-put',
  title: 'a second PUT of a stored hash answers 409 and changes nothing',
  async run(ctx): Promise<CheckOutcome> {
    const probe = ctx.http();
    const key = api.newKey();
    const first = randomBytes(20_000);
    const stored = await putEntry(probe, api, key, first);
    if (stored) return fail(stored);
    const second = await probe.request('PUT', api.path(key), { headers: api.putHeaders, body: randomBytes(20_000) });
    const kept = await expectEntry(probe, api, key, first);
    if (second.status === 409)
      return kept ? fail(`409, but then ${kept}`) : pass('409, and the first bytes are still served');
    if (second.status === 200)
      return fail(
        `200${kept ? ', and the entry was replaced' : ''} (Nx records are immutable: 409, so a later build cannot replace what an earlier one stored)`,
      );
    return fail(`${statusText(second)}: Nx takes only 200 and 409, and ends the run on anything else`);
  },
};

/**
 * Nx shows a 401's body to the user only when its Content-Type is exactly `text/plain` (it
 * compares the header value byte for byte: `text/plain; charset=utf-8` does not match);
 * otherwise it reports "Misconfigured remote cache endpoint" instead of the server's message.
 */
function plainText401(res: { headers: Record<string, string> }): string | undefined {
  const type = res.headers['content-type'];
  return type === 'text/plain'
    ? undefined
    : `401 with Content-Type ${type ?? '(none)'}: Nx then reports "Misconfigured" instead of the server's message (it needs exactly text/plain)`;
}

export function nxChecks(): readonly Check[] {
  const { roundTrip, sameKey, authRefusal } = keyedChecks(api, {
    judge401: plainText401,
    alsoStored: (s) => s === 409,
  });
  return [roundTrip, rePut, sameKey, ...uploadCutChecks(api), authRefusal];
}
