// Turns a call's credentials into an identity with its grant, or refuses them. Sources, any
// combination: an htpasswd file (Basic), the access file's tokens (Bearer, looked up by
// their sha256), a JWKS file (Bearer JWTs), a verified client certificate,
// and anonymous reads. Verifying a password (bcrypt) or a JWT costs far more than serving
// a blob, and build clients send the same credentials with every request, so each success
// is remembered (a keyed hash of the credentials, never the secret itself), bounded, and
// forgotten when its file is read again.
import { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import { AccessRefused, ErrorCode } from '../core/errors.ts';
import type { Identity } from '../core/identity.ts';
import { DEFAULT_POLICY, parseAccessFile, type AccessPolicy, type Grant } from './access-file.ts';
import type { Credentials } from './credentials.ts';
import { parseHtpasswd, verifyHtpasswd, type HtpasswdUsers } from './htpasswd.ts';
import { JwtRefused, JwtVerifier, parseJwks, CLOCK_SKEW_SECONDS } from './jwt-verifier.ts';
import { WatchedFile, type FileLogger } from './watched-file.ts';

export type AccessConfig = Pick<
  Config,
  | 'htpasswdFile'
  | 'accessFile'
  | 'jwtJwksFile'
  | 'jwtIssuer'
  | 'jwtAudience'
  | 'jwtNamespacesClaim'
  | 'allowUnauthenticatedReads'
  | 'tlsCaFile'
>;

/** Whether `config` turns access control on: any source of identities is configured. */
export function accessControlOn(config: AccessConfig): boolean {
  return config.htpasswdFile !== '' || config.accessFile !== '' || config.jwtJwksFile !== '' || config.tlsCaFile !== '';
}

const REMEMBERED = 4096;
const REALM = 'realm="hoard"';

/** A bounded map that forgets its oldest entry when full. */
class Remembered<V> {
  readonly #map = new Map<string, V>();
  get(key: string): V | undefined {
    return this.#map.get(key);
  }
  set(key: string, value: V): void {
    if (this.#map.size >= REMEMBERED) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, value);
  }
  delete(key: string): void {
    this.#map.delete(key);
  }
  clear(): void {
    this.#map.clear();
  }
}

function identity(kind: Identity['kind'], name: string, grant: Grant): Identity {
  return { kind, name, scopes: grant.scopes, namespaces: grant.namespaces, reads: grant.reads };
}

const ANONYMOUS_NONE: Identity = identity('anonymous', 'anonymous', { scopes: new Set(), namespaces: [], reads: [] });
const ANONYMOUS_READ: Identity = identity('anonymous', 'anonymous', {
  scopes: new Set(['read']),
  namespaces: ['*'],
  reads: [],
});

export class Authenticator {
  readonly #users: WatchedFile<HtpasswdUsers> | undefined;
  readonly #policy: WatchedFile<AccessPolicy> | undefined;
  readonly #jwt: WatchedFile<JwtVerifier> | undefined;
  readonly #anonymous: Identity;
  /** Keys remembered successes without holding a secret an attacker could read back. */
  // A KeyObject made once: createHmac with a Buffer key builds one per call (~10 us).
  readonly #secret = createSecretKey(randomBytes(32));
  readonly #basic = new Remembered<Identity>();
  readonly #jwts = new Remembered<{ identity: Identity; expiresAt: number }>();
  /** The WWW-Authenticate challenges of a refusal: the schemes this server accepts. */
  readonly challenges: readonly string[];

  /** Reads every configured file now; throws an Error naming the flag and file when one is unusable. */
  constructor(config: AccessConfig, logger: FileLogger) {
    const forget = (): void => this.#basic.clear();
    const watched = <T>(file: string, flag: string, parse: (text: string) => T, onReload: () => void) =>
      file === '' ? undefined : new WatchedFile(file, flag, parse, logger, onReload);
    try {
      this.#users = watched(
        config.htpasswdFile,
        '--htpasswd-file',
        (t) => parseHtpasswd(t, config.htpasswdFile),
        forget,
      );
      this.#policy = watched(config.accessFile, '--access-file', (t) => parseAccessFile(t, config.accessFile), forget);
      const jwt = {
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
        namespacesClaim: config.jwtNamespacesClaim,
      };
      this.#jwt = watched(
        config.jwtJwksFile,
        '--jwt-jwks-file',
        (t) => new JwtVerifier(parseJwks(t, config.jwtJwksFile), jwt),
        () => this.#jwts.clear(),
      );
    } catch (err) {
      this.close();
      throw err;
    }
    this.#anonymous = config.allowUnauthenticatedReads ? ANONYMOUS_READ : ANONYMOUS_NONE;
    const challenges: string[] = [];
    if (this.#users !== undefined) challenges.push(`Basic ${REALM}, charset="UTF-8"`);
    if (this.#policy !== undefined || this.#jwt !== undefined) challenges.push(`Bearer ${REALM}`);
    this.challenges = challenges;
  }

  get #grants(): AccessPolicy {
    return this.#policy?.value ?? DEFAULT_POLICY;
  }

  /**
   * The identity behind `credentials`, or behind `certificate` (a verified client
   * certificate's subject) when they are none, or the anonymous identity (which may hold no
   * scope at all). Refused credentials throw AccessRefused (Unauthenticated); the result is
   * synchronous when the credentials were verified before.
   */
  authenticate(credentials: Credentials, certificate: string | undefined): Identity | Promise<Identity> {
    switch (credentials.kind) {
      case 'basic':
        return this.#basicIdentity(credentials.user, credentials.password);
      case 'bearer':
        return this.#bearerIdentity(credentials.token);
      case 'none':
        if (certificate !== undefined)
          return identity(
            'certificate',
            certificate,
            this.#grants.certificates.get(certificate) ?? this.#grants.defaults,
          );
        return this.#anonymous;
    }
  }

  #refused(reason: string, message: string, challenges = this.challenges): AccessRefused {
    return new AccessRefused(ErrorCode.Unauthenticated, reason, message, challenges);
  }

  #basicIdentity(user: string, password: string): Identity | Promise<Identity> {
    const users = this.#users?.value;
    if (users === undefined) throw this.#refused('credentials_unsupported', 'this server takes no Basic credentials');
    const key = createHmac('sha256', this.#secret).update(user).update('\0').update(password).digest('base64');
    const known = this.#basic.get(key);
    if (known !== undefined) return known;
    const entry = users.get(user);
    // An unknown user costs as much as a wrong password: no telling which it was.
    const checking =
      entry === undefined ? verifyAnother(users, password).then(() => false) : verifyHtpasswd(entry, password);
    return checking.then((ok) => {
      if (!ok || entry === undefined) throw this.#refused('credentials_wrong', 'unknown user or wrong password');
      const id = identity('user', user, this.#grants.users.get(user) ?? this.#grants.defaults);
      this.#basic.set(key, id);
      return id;
    });
  }

  #bearerIdentity(token: string): Identity | Promise<Identity> {
    const bearer = (description: string) => [
      `Bearer ${REALM}, error="invalid_token", error_description="${description.replace(/["\\]/g, "'")}"`,
      ...this.challenges.filter((c) => !c.startsWith('Bearer')),
    ];
    // Looked up by the token's hash: the time a lookup takes depends on the hash, never on the token.
    const record = this.#grants.tokens.get(createHash('sha256').update(token).digest('hex'));
    if (record !== undefined) return identity('token', record.name, record);
    const jwt = this.#jwt?.value;
    if (jwt === undefined || token.split('.').length !== 3)
      throw this.#refused('credentials_wrong', 'unknown token', bearer('unknown token'));
    const now = Date.now() / 1000;
    const key = createHmac('sha256', this.#secret).update(token).digest('base64');
    const known = this.#jwts.get(key);
    if (known !== undefined) {
      if (now <= known.expiresAt + CLOCK_SKEW_SECONDS) return known.identity;
      this.#jwts.delete(key);
    }
    return jwt.verify(token).then(
      (v) => {
        const id = identity('jwt', v.subject, v);
        this.#jwts.set(key, { identity: id, expiresAt: v.expiresAt });
        return id;
      },
      (err: unknown) => {
        const e = err as JwtRefused;
        throw this.#refused(e.failure, e.message, bearer(e.message));
      },
    );
  }

  close(): void {
    this.#users?.close();
    this.#policy?.close();
    this.#jwt?.close();
  }
}

/** Checks `password` against some user's hash, to spend the time a known user would cost. */
async function verifyAnother(users: HtpasswdUsers, password: string): Promise<void> {
  const some = users.values().next().value;
  if (some !== undefined) await verifyHtpasswd(some, password);
}
