// Credentials for access-control tests, made fresh by each test run: an htpasswd file the
// real `htpasswd` tool writes (bcrypt, apr1-MD5 and SHA1 users), an access file with bearer
// tokens of several grants, and a JWKS file with a key to sign JWTs (and a second key the
// server does not know). Nothing is checked in, so nothing expires.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { stringify } from 'yaml';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'hoard-test';

/**
 * User name -> password; alice is bcrypt, bob apr1-MD5, carol SHA1. `u:?>?~` encodes with '/' and
 * '+' in standard base64 and '_' and '-' in the URL-safe one.
 */
export const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', reader: 'reader-pw', u: '?>?~' } as const;

export interface TokenSpec {
  readonly scopes: readonly string[];
  readonly namespaces?: readonly string[];
  readonly reads?: readonly string[];
}

export interface AccessFixtures {
  readonly dir: string;
  readonly htpasswdFile: string;
  readonly accessFile: string;
  readonly jwksFile: string;
  /** Secret of each token of the access file, by name. */
  readonly tokens: Readonly<Record<string, string>>;
  /** A JWT signed by the server's key (or, with `foreignKey`, by a key it does not know). */
  jwt(claims: JWTPayload, options?: { expiresIn?: string | number; foreignKey?: boolean }): Promise<string>;
  /** The server's flags for all three sources. */
  readonly flags: Record<string, string>;
  basic(user: keyof typeof USERS | string, password?: string): string;
  close(): Promise<void>;
}

export const DEFAULT_TOKENS: Record<string, TokenSpec> = {
  writer: { scopes: ['read', 'write'] },
  reader: { scopes: ['read'] },
  'team-a': { scopes: ['read', 'write'], namespaces: ['team-a'] },
  admin: { scopes: ['admin'] },
  'pull-requests': { scopes: ['read', 'write'], namespaces: ['pr-*'], reads: ['main'] },
};

export async function makeAccessFixtures(tokens: Record<string, TokenSpec> = DEFAULT_TOKENS): Promise<AccessFixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-access-'));
  const htpasswdFile = join(dir, 'htpasswd');
  const form: Record<string, string> = { alice: '-B', bob: '-m', carol: '-s', reader: '-B', u: '-B' };
  const lines = Object.entries(USERS).map(([user, pw]) =>
    execFileSync('htpasswd', ['-nb', form[user]!, user, pw], { encoding: 'utf8' }).trim(),
  );
  await writeFile(htpasswdFile, `${lines.join('\n')}\n`);

  const secrets: Record<string, string> = {};
  const records = Object.entries(tokens).map(([name, spec]) => {
    const secret = `hoard_${randomBytes(24).toString('base64url')}`;
    secrets[name] = secret;
    return {
      name,
      sha256: createHash('sha256').update(secret).digest('hex'),
      scopes: spec.scopes,
      ...(spec.namespaces === undefined ? {} : { namespaces: spec.namespaces }),
      ...(spec.reads === undefined ? {} : { reads: spec.reads }),
    };
  });
  const accessFile = join(dir, 'access.yaml');
  await writeFile(
    accessFile,
    stringify({ tokens: records, users: [{ name: 'reader', scopes: ['read'], namespaces: ['*'] }] }),
  );

  const own = await generateKeyPair('ES256');
  const foreign = await generateKeyPair('ES256');
  const jwksFile = join(dir, 'jwks.json');
  await writeFile(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(own.publicKey)), kid: 'k1', alg: 'ES256' }] }),
  );
  const sign = (key: CryptoKey, claims: JWTPayload, expiresIn: string | number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(key);

  return {
    dir,
    htpasswdFile,
    accessFile,
    jwksFile,
    tokens: secrets,
    jwt: (claims, options = {}) =>
      sign(
        options.foreignKey ? foreign.privateKey : own.privateKey,
        { iss: ISSUER, aud: AUDIENCE, ...claims },
        options.expiresIn ?? '5m',
      ),
    flags: {
      htpasswdFile,
      accessFile,
      jwtJwksFile: jwksFile,
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
    },
    basic: (user, password) =>
      `Basic ${Buffer.from(`${user}:${password ?? USERS[user as keyof typeof USERS]}`).toString('base64')}`,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
