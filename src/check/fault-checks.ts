// Fault checks of `hoard check`: the cache under connection churn and through the built-in
// fault proxy (src/check/fault-proxy.ts). docs/CHECKS.md says which real bug each one
// comes from.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  blobOf,
  errorText,
  fail,
  na,
  parallel,
  pass,
  type Check,
  type CheckContext,
  type CheckOutcome,
} from './check-context.ts';

async function cutUploads(ctx: CheckContext): Promise<CheckOutcome> {
  if (!ctx.canProxy) return na('TLS endpoints cannot be cut by the TCP proxy');
  const n = Math.max(8, Math.round(40 * ctx.scale));
  const blobs = Array.from({ length: n }, () => blobOf(100_000 + Math.floor(Math.random() * 400_000)));
  // Each connection is cut after a random number of bytes below the smallest blob, so the
  // server never receives a whole upload.
  const headerRoom = ctx.protocol === 'http' ? 200 : 1000;
  const { proxy, url } = await ctx.proxy({
    cutDirection: 'upstream',
    cutAfterBytes: () => headerRoom + Math.floor(Math.random() * (100_000 - headerRoom)),
  });
  const direct = ctx.client();
  const problems: string[] = [];
  let acknowledged = 0;
  await parallel(blobs, 8, async (b) => {
    const cut = ctx.client({ retry: { retries: 0 }, concurrency: 1 }, url);
    const ok = await cut.put(b.digest, b.bytes).then(
      () => true,
      () => false,
    );
    await ctx.release(cut);
    if (ok) acknowledged++;
    await sleep(50); // let the server notice the broken connection
    const served = await direct
      .getBytes(b.digest)
      .catch((e: unknown) => `served partial or corrupt bytes: ${errorText(e)}`);
    if (typeof served === 'string') problems.push(served);
    else if (served && !Buffer.from(served).equals(b.bytes)) problems.push('served bytes that differ');
    else if (served && !ok) problems.push('served a blob whose upload was cut (bytes happen to be whole?)');
  });
  if (problems.length) return fail(`${problems.length}/${n} cut uploads: ${problems[0]}`);
  if (acknowledged) return fail(`${acknowledged}/${n} uploads acknowledged although the server never got every byte`);
  return pass(`${n} uploads cut at random offsets (${proxy.stats.cuts} cuts): nothing partial served`);
}

export const faultChecks: readonly Check[] = [
  {
    id: 'keep-alive-churn',
    title: 'thousands of requests on reused connections, retries off: no error',
    async run(ctx) {
      // Retries are OFF: a server that silently closes a keep-alive connection a client may
      // reuse (instead of saying Connection: close / GOAWAY) shows up as errors here.
      const client = ctx.client({ retry: { retries: 0 }, concurrency: 16 });
      const small = Array.from({ length: 32 }, () => blobOf(1 + Math.floor(Math.random() * 4096)));
      const total = Math.max(200, Math.round(3000 * ctx.scale));
      const errors: string[] = [];
      await parallel(small, 32, (b) =>
        client.put(b.digest, b.bytes).catch((e: unknown) => void errors.push(errorText(e))),
      );
      await parallel(
        Array.from({ length: total }, (_, i) => i),
        64,
        async (i) => {
          const b = small[i % small.length] as (typeof small)[number];
          const op =
            i % 3 === 0
              ? client.has(b.digest)
              : i % 3 === 1
                ? client.getBytes(b.digest)
                : client.put(b.digest, b.bytes);
          await op.catch((e: unknown) => void errors.push(errorText(e)));
          if (i % 500 === 499) await sleep(20); // idle gaps let keep-alive timers run
        },
      );
      return errors.length
        ? fail(`${errors.length}/${total} requests failed: ${errors[0]}`)
        : pass(`${total} has/get/put requests, 0 errors`);
    },
  },
  {
    id: 'cut-uploads',
    title: 'uploads cut at random offsets are never served, in part or whole',
    run: cutUploads,
  },
  {
    id: 'idle-cut',
    title: 'idle connections cut between requests (FIN and silent): next requests succeed',
    async run(ctx) {
      if (!ctx.canProxy) return na('TLS endpoints cannot be cut by the TCP proxy');
      const b = blobOf(50_000);
      let cuts = 0;
      for (const style of ['fin', 'silent'] as const) {
        const { proxy, url } = await ctx.proxy({ idleCutMs: 150, idleCutStyle: style });
        const client = ctx.client({}, url);
        try {
          await client.put(b.digest, b.bytes);
          await sleep(350);
          const got = await client.getBytes(b.digest);
          if (!got || !Buffer.from(got).equals(b.bytes))
            return fail(`after a ${style} idle cut the blob read back wrong or missing`);
          await sleep(350);
          if (!(await client.has(b.digest))) return fail(`after a ${style} idle cut the blob is reported missing`);
        } catch (err) {
          return fail(`after a ${style} idle cut: ${errorText(err)}`);
        }
        cuts += proxy.stats.idleCuts;
      }
      return cuts > 0
        ? pass(`${cuts} idle connections cut, every next request succeeded`)
        : na('the connection never sat idle long enough to be cut');
    },
  },
];
