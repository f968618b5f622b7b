// One access-log line per call, HTTP and gRPC alike, written when the answer is finished
// or abandoned. Header values are never logged: they may carry credentials.
import type { Interceptor } from '../../core/call.ts';
import { roundedMs } from '../../core/call-chain.ts';

/** The part of a pino logger the access log uses. */
export interface AccessLogger {
  info(obj: object, msg?: string): void;
}

export function accessLog(logger: AccessLogger): Interceptor {
  return {
    name: 'access-log',
    finish(call, outcome) {
      const peer = call.peer;
      logger.info({
        protocol: call.protocol,
        method: call.operation,
        url: call.target,
        namespace: call.namespace,
        identity: call.identity === undefined ? undefined : `${call.identity.kind}:${call.identity.name}`,
        status: outcome.status,
        ms: roundedMs(outcome),
        bytes: outcome.bytesSent,
        remote: peer.address,
        certificate: peer.certificate,
      });
    },
  };
}
