// Which checks `hoard check --protocol P` runs. `bazel` (the default) is the Bazel HTTP
// cache over http(s):// and REAPI over grpc(s)://, through the client library; the others
// are the protocols hoard mounts beside it, checked through a plain HTTP probe.
import { ErrorCode, HoardError } from '../core/errors.ts';
import type { Check } from './check-context.ts';
import { conformanceChecks } from './conformance-checks.ts';
import { faultChecks } from './fault-checks.ts';
import { gradleChecks } from './gradle-checks.ts';
import { nxChecks } from './nx-checks.ts';
import { turboChecks } from './turbo-checks.ts';
import { webdavChecks } from './webdav-checks.ts';

export const CHECK_PROTOCOLS = ['bazel', 'turbo', 'nx', 'gradle', 'webdav'] as const;
export type CheckProtocol = (typeof CHECK_PROTOCOLS)[number];

/** The Bazel HTTP / REAPI checks. */
export const BAZEL_CHECKS: readonly Check[] = [...conformanceChecks, ...faultChecks];

/** InvalidArgument unless `name` is one of CHECK_PROTOCOLS. */
export function checkProtocol(name: string): CheckProtocol {
  const found = CHECK_PROTOCOLS.find((p) => p === name);
  if (found === undefined)
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `unknown protocol ${JSON.stringify(name)}; known: ${CHECK_PROTOCOLS.join(', ')}`,
    );
  return found;
}

/** The checks of `protocol`; `team` is Turborepo's team slug ('' for none). */
export function checksFor(protocol: CheckProtocol, team = ''): readonly Check[] {
  switch (protocol) {
    case 'bazel':
      return BAZEL_CHECKS;
    case 'turbo':
      return turboChecks(team);
    case 'nx':
      return nxChecks();
    case 'gradle':
      return gradleChecks();
    case 'webdav':
      return webdavChecks();
  }
}

/** InvalidArgument when `server`'s scheme cannot carry `protocol` (only Bazel speaks gRPC). */
export function checkScheme(protocol: CheckProtocol, server: string): void {
  const scheme = new URL(server).protocol;
  if (protocol !== 'bazel' && scheme !== 'http:' && scheme !== 'https:')
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `--protocol ${protocol} needs an http:// or https:// server, not ${scheme}//`,
    );
}
