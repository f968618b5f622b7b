// Access control as one admitting interceptor, so it holds for every protocol alike: the
// call's credentials (src/access/credentials.ts) become an identity (authenticator.ts),
// which must hold the scope and namespace the call needs (authorize.ts). A refusal is an
// AccessRefused the frontend answers in its protocol (401/403, UNAUTHENTICATED/
// PERMISSION_DENIED), before the store is touched; it is counted by its reason, and an
// address that keeps being refused waits longer for each answer (failure-throttle.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { Authenticator, type AccessConfig } from '../../access/authenticator.ts';
import { authorize } from '../../access/authorize.ts';
import { credentialsOf } from '../../access/credentials.ts';
import { FailureThrottle } from '../../access/failure-throttle.ts';
import type { FileLogger } from '../../access/watched-file.ts';
import type { Call, Interceptor } from '../../core/call.ts';
import { AccessRefused, ErrorCode } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';

export function accessControl(config: AccessConfig, logger: FileLogger): Interceptor & { close(): void } {
  const authenticator = new Authenticator(config, logger);
  const throttle = new FailureThrottle();

  const refuse = (call: Call, err: unknown): Promise<never> | never => {
    // Guessing is presenting credentials that do not verify: a call without any, or one
    // refused a permission, guesses nothing and is answered at once.
    const guessed =
      err instanceof AccessRefused && err.code === ErrorCode.Unauthenticated && err.reason !== 'credentials_missing';
    const wait = guessed ? throttle.fail(call.peer.address) : 0;
    if (wait === 0) throw err;
    return sleep(wait).then(() => {
      throw err;
    });
  };
  const admitAs = (call: Call, identity: Identity): undefined => {
    call.identity = identity;
    authorize(identity, call.access, call.namespace ?? '', authenticator.challenges);
    return undefined;
  };

  return {
    name: 'access-control',
    admit(call) {
      // Health checks and calls that touch nothing need no credentials.
      if (call.access === 'none') return undefined;
      try {
        const credentials = credentialsOf(call, authenticator.challenges);
        const certificate = credentials.kind === 'none' ? call.peer.certificate : undefined;
        const identity = authenticator.authenticate(credentials, certificate);
        if (!(identity instanceof Promise)) return admitAs(call, identity);
        return identity.then((id) => admitAs(call, id)).catch((err: unknown) => refuse(call, err));
      } catch (err) {
        return refuse(call, err);
      }
    },
    close: () => authenticator.close(),
  };
}
