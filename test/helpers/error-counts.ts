// Reading hoard_errors_total out of a server's Prometheus text, and waiting for a count to
// reach a value: request threads report their counts in batches, so a test polls.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

/** The failures of `protocol` counted so far: of `cause`, or of every cause when it is undefined. */
export function errorCount(metricsText: string, protocol: string, cause?: string): number {
  let sum = 0;
  for (const m of metricsText.matchAll(/^hoard_errors_total\{protocol="([^"]*)",cause="([^"]*)"\} (\d+)$/gm)) {
    if (m[1] === protocol && (cause === undefined || m[2] === cause)) sum += Number(m[3]);
  }
  return sum;
}

/** Waits (up to about 5 s) until `protocol` has at least `atLeast` failures of `cause` (any cause when undefined). */
export async function waitForErrors(
  render: () => Promise<string>,
  protocol: string,
  atLeast: number,
  cause?: string,
): Promise<void> {
  let last = 0;
  for (let i = 0; i < 100; i++) {
    last = errorCount(await render(), protocol, cause);
    if (last >= atLeast) return;
    await sleep(50);
  }
  assert.fail(
    `expected at least ${atLeast} ${protocol} errors${cause === undefined ? '' : ` of cause ${cause}`}, saw ${last}`,
  );
}
