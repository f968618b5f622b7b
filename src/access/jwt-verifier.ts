// Bearer JWTs checked against a local JWKS file (--jwt-jwks-file): no network at run time.
// A token verifies when a key of the set signed it, its issuer and audience are the
// configured ones, and it has not expired (30 s of clock skew allowed). Its claims map to
// a grant: scopes from `scope` (space-separated, RFC 8693) or `scp` (a list), namespaces
// from the configured claim (a list, or a space- or comma-separated string), and namespaces
// it may only read from the same claim name prefixed `read_` (`read_namespaces`).
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { SCOPES, type Scope } from '../core/identity.ts';

export const CLOCK_SKEW_SECONDS = 30;

export interface JwtSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly namespacesClaim: string;
}

export interface VerifiedJwt {
  readonly subject: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly namespaces: readonly string[];
  readonly reads: readonly string[];
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

/** Why a JWT was refused: an access-refusal reason (the metrics' cause label). */
export type JwtFailure = 'token_expired' | 'token_wrong_issuer' | 'token_wrong_audience' | 'token_invalid';

export class JwtRefused extends Error {
  readonly failure: JwtFailure;
  constructor(failure: JwtFailure, message: string) {
    super(message);
    this.failure = failure;
  }
}

/** The key set of a JWKS file's text; an Error naming the file otherwise. */
export function parseJwks(text: string, file: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new Error(`${file}: not a JWKS: it needs a non-empty "keys" list`);
  return doc as JSONWebKeySet;
}

function listClaim(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((v) => v !== '');
  return [];
}

export class JwtVerifier {
  readonly #keys: ReturnType<typeof createLocalJWKSet>;
  readonly #settings: JwtSettings;

  constructor(jwks: JSONWebKeySet, settings: JwtSettings) {
    this.#keys = createLocalJWKSet(jwks);
    this.#settings = settings;
  }

  /** The verified token's grant; throws JwtRefused saying why it is refused. */
  async verify(token: string): Promise<VerifiedJwt> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        issuer: this.#settings.issuer === '' ? undefined : this.#settings.issuer,
        audience: this.#settings.audience === '' ? undefined : this.#settings.audience,
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw refusal(err);
    }
    const scopes = new Set(
      [...listClaim(payload['scope']), ...listClaim(payload['scp'])].filter((s): s is Scope =>
        (SCOPES as readonly string[]).includes(s),
      ),
    );
    return {
      subject: payload.sub ?? '(no subject)',
      scopes,
      namespaces: listClaim(payload[this.#settings.namespacesClaim]),
      reads: listClaim(payload[`read_${this.#settings.namespacesClaim}`]),
      expiresAt: payload.exp!,
    };
  }
}

function refusal(err: unknown): JwtRefused {
  if (err instanceof joseErrors.JWTExpired) return new JwtRefused('token_expired', 'the token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return new JwtRefused('token_wrong_issuer', 'the token is from another issuer');
    if (err.claim === 'aud') return new JwtRefused('token_wrong_audience', 'the token is for another audience');
    return new JwtRefused('token_invalid', `the token's ${err.claim} claim is not acceptable: ${err.reason}`);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new JwtRefused('token_invalid', 'no key of the JWKS file verifies the token');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new JwtRefused('token_invalid', 'the token signature does not verify');
  return new JwtRefused('token_invalid', 'the token is not a well-formed, signed JWT');
}
