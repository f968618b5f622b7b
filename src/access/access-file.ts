// The access file (--access-file, YAML or JSON): bearer tokens, stored as their sha256
// only, and the grants (scopes and namespace patterns) of every identity. docs/SECURITY.md
// shows a whole one.
//
//   tokens:                       # a token's name, the sha256 of its secret, what it may do
//     - { name: ci-main, sha256: 9f86d0..., scopes: [read, write], namespaces: [main] }
//     - { name: ci-prs, sha256: 1c3a..., scopes: [read, write], namespaces: ["pr-*"], reads: [main] }
//   users:                        # htpasswd users (--htpasswd-file)
//     - { name: alice, scopes: [read, write, admin], namespaces: ["*"] }
//   certificates:                 # verified client certificates, by subject common name
//     - { name: agent-1, scopes: [read, write], namespaces: [main] }
//   defaults: { scopes: [read, write], namespaces: ["*"] }   # users and certificates not listed
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { checkNamespacePattern } from '../core/namespace-pattern.ts';
import { FULL_ACCESS, SCOPES, type Scope } from '../core/identity.ts';

export interface Grant {
  readonly scopes: ReadonlySet<Scope>;
  readonly namespaces: readonly string[];
  /** Namespace patterns readable (never writable) besides `namespaces`. */
  readonly reads: readonly string[];
}

export interface TokenRecord extends Grant {
  readonly name: string;
}

export interface AccessPolicy {
  /** By the token's sha256 in hex. */
  readonly tokens: ReadonlyMap<string, TokenRecord>;
  readonly users: ReadonlyMap<string, Grant>;
  readonly certificates: ReadonlyMap<string, Grant>;
  /** The grant of a user or certificate the file does not list. */
  readonly defaults: Grant;
}

const scopes = z.array(
  z.enum(SCOPES, { error: (i) => `${JSON.stringify(i.input)} is not one of ${SCOPES.join(', ')}` }),
);
const namespaces = z.array(
  z.string().transform((p, ctx) => {
    try {
      return checkNamespacePattern(p);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }),
);
const grant = { scopes, namespaces: namespaces.prefault([...FULL_ACCESS.namespaces]), reads: namespaces.prefault([]) };
const named = z.strictObject({ name: z.string().min(1), ...grant });
const fileSchema = z.strictObject({
  tokens: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64 lower-case hex digits of the sha256 of the token'),
        ...grant,
      }),
    )
    .prefault([]),
  users: z.array(named).prefault([]),
  certificates: z.array(named).prefault([]),
  defaults: z.strictObject(grant).prefault({ scopes: [...FULL_ACCESS.scopes] }),
});

function toGrant(g: { scopes: readonly Scope[]; namespaces: readonly string[]; reads: readonly string[] }): Grant {
  return { scopes: new Set(g.scopes), namespaces: g.namespaces, reads: g.reads };
}

function byName(
  list: readonly { name: string; scopes: Scope[]; namespaces: string[]; reads: string[] }[],
  what: string,
  file: string,
) {
  const map = new Map<string, Grant>();
  for (const e of list) {
    if (map.has(e.name)) throw new Error(`${file}: ${what} ${JSON.stringify(e.name)} is listed twice`);
    map.set(e.name, toGrant(e));
  }
  return map;
}

/** The policy an access file's text holds; an Error naming the file and the field otherwise. */
export function parseAccessFile(text: string, file: string): AccessPolicy {
  let doc: unknown;
  try {
    doc = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${file}: cannot parse: ${(err as Error).message}`, { cause: err });
  }
  const result = fileSchema.safeParse(doc ?? {}); // an empty file: no tokens, the defaults
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  const v = result.data;
  const tokens = new Map<string, TokenRecord>();
  for (const t of v.tokens) {
    if (tokens.has(t.sha256)) throw new Error(`${file}: token ${JSON.stringify(t.name)} has the sha256 of another`);
    tokens.set(t.sha256, { name: t.name, ...toGrant(t) });
  }
  return {
    tokens,
    users: byName(v.users, 'user', file),
    certificates: byName(v.certificates, 'certificate', file),
    defaults: toGrant(v.defaults),
  };
}

/** The policy without an access file: no tokens, every user and certificate reads and writes everywhere. */
export const DEFAULT_POLICY: AccessPolicy = {
  tokens: new Map(),
  users: new Map(),
  certificates: new Map(),
  defaults: toGrant(FULL_ACCESS),
};
