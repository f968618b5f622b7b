// Request metrics for every call: count and duration by protocol, operation and status, the
// slowest recent calls (for /status), and a failed call counted once in hoard_errors_total by
// its stable cause.
import type { Interceptor } from '../../core/call.ts';
import { displayPath } from '../../metrics/activity.ts';
import type { Metrics } from '../../metrics/metrics.ts';

export function requestMetrics(metrics: Metrics): Interceptor {
  return {
    name: 'request-metrics',
    finish(call, outcome) {
      metrics.request(call.protocol, call.operation, outcome.status, outcome.seconds);
      metrics.finished(call.protocol, outcome.seconds, () => ({
        at: Date.now(),
        protocol: call.protocol,
        method: call.operation,
        path: displayPath(call.target),
        namespace: call.namespace,
        status: outcome.status,
        seconds: outcome.seconds,
        bytes: outcome.bytesSent,
      }));
    },
  };
}

/**
 * Counts a call whose answer was a refusal or a failure (never a hit, a miss or a success)
 * by the cause its frontend recorded, or by the status when it recorded none.
 */
export function errorCounting(metrics: Metrics): Interceptor {
  return {
    name: 'error-counting',
    finish(call, outcome) {
      if (outcome.ok) return;
      metrics.error(call.protocol, call.cause ?? String(outcome.status).toLowerCase());
    },
  };
}
