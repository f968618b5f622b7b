// What an authenticated identity may do: the call's kind of access needs the scope of the
// same name, and a read or write also needs the call's namespace among the identity's
// namespace patterns; a read may also name one of its read-only patterns (`reads`), whatever
// its scopes. Admin calls name no namespace. A refusal of the anonymous identity is
// "who are you?" (Unauthenticated: credentials would help), anyone else's is "no"
// (PermissionDenied: other credentials are needed, not these again).
import type { Access } from '../core/call.ts';
import { AccessRefused, ErrorCode } from '../core/errors.ts';
import type { Identity } from '../core/identity.ts';
import { matchesNamespace } from '../core/namespace-pattern.ts';

function who(identity: Identity): string {
  return `${identity.kind} ${JSON.stringify(identity.name)}`;
}

/** Throws AccessRefused unless `identity` may do `access` to `namespace`. */
export function authorize(identity: Identity, access: Access, namespace: string, challenges: readonly string[]): void {
  if (access === 'none') return;
  const among = (patterns: readonly string[]) => patterns.some((p) => matchesNamespace(p, namespace));
  if (access === 'read' && among(identity.reads)) return;
  const scoped = identity.scopes.has(access);
  const placed = access === 'admin' || among(identity.namespaces);
  if (scoped && placed) return;
  if (identity.kind === 'anonymous')
    throw new AccessRefused(
      ErrorCode.Unauthenticated,
      'credentials_missing',
      access === 'read' ? 'credentials are required' : `credentials are required to ${access}`,
      challenges,
    );
  if (!scoped)
    throw new AccessRefused(ErrorCode.PermissionDenied, 'scope_denied', `${who(identity)} has no ${access} scope`);
  throw new AccessRefused(
    ErrorCode.PermissionDenied,
    'namespace_denied',
    `${who(identity)} may not ${access} namespace ${JSON.stringify(namespace)}`,
  );
}
