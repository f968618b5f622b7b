// Who a call is, once its credentials verified (src/access/), and what it may do: scopes
// say which kinds of access, namespace patterns (core/namespace-pattern.ts) say where.

/** read: CAS and AC reads; write: CAS and AC writes; admin: /status, /metrics, admin calls. */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** Where an identity came from: the log says it, and each kind has its own grants. */
export type IdentityKind = 'user' | 'token' | 'jwt' | 'certificate' | 'anonymous';

export interface Identity {
  readonly kind: IdentityKind;
  /** A user name, a token's name, a JWT's subject, a certificate's subject; never a secret. */
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Namespace patterns the scopes hold in. */
  readonly namespaces: readonly string[];
  /**
   * Further namespace patterns this identity may read and never write, whatever its scopes:
   * a pull request's identity writes its own namespace and reads main's.
   */
  readonly reads: readonly string[];
}

/** What an identity without a grant of its own may do: read and write every namespace. */
export const FULL_ACCESS = {
  scopes: ['read', 'write'] as readonly Scope[],
  namespaces: ['*'] as readonly string[],
  reads: [] as readonly string[],
};
