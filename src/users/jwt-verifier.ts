import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { LRUCache } from 'lru-cache';
import { CodecastError, USERNAME_PATTERN, hashToken } from '../domain/index.js';

/** How JWTs are verified: the config's `jwt` satisfies it (users/ takes no value from config). */
export interface JwtOptions {
  /** HMAC secret for HS256/384/512. */
  readonly secret: KeyObject | undefined;
  /** Public key for every other algorithm. */
  readonly publicKey: KeyObject | undefined;
  /** Accepted `alg` values; never `none`. */
  readonly algorithms: readonly string[];
  readonly audience: readonly string[] | undefined;
  readonly issuer: readonly string[] | undefined;
  readonly clockSkewSeconds: number;
  /** Furthest `exp` may lie ahead of now; null: no limit. */
  readonly maxLifetimeSeconds: number | null;
}

/** What a verified JWT says: whom it names, and until when. */
export interface VerifiedJwt {
  readonly subject: string;
  readonly expiresAtMs: number;
}

/** What came of a signature check: the token accepted, found expired, or refused for anything else. */
export type JwtOutcome = 'accepted' | 'expired' | 'refused';

export interface JwtVerifierStats {
  /** Signatures checked, by outcome (a token remembered, verified or expired, is not checked again). */
  readonly verifications: Readonly<Record<JwtOutcome, number>>;
  /** Tokens answered without a signature check: verified ones until their exp, expired ones as such. */
  readonly cacheHits: number;
  /** Verified tokens remembered now. */
  readonly cached: number;
}

// A JWT worth verifying fits in a header line; anything longer is refused
// before its signature is checked (Node caps all headers at 16 KiB anyway).
const MAX_JWT_CHARS = 8192;
const SEGMENT = '[A-Za-z0-9_-]';
// Three base64url parts; the last is empty for `alg: none`, which must reach
// the verifier to be refused as such rather than as an unknown token.
const COMPACT_JWS = new RegExp(`^${SEGMENT}+\\.${SEGMENT}+\\.${SEGMENT}*$`);
// A verified token is checked again after this at the latest, however far
// off its exp (with CODECAST_JWT_MAX_LIFETIME_SECONDS=0 it may be years).
const REMEMBER_AT_MOST_MS = 3_600_000;
// Expired tokens remembered, so that one replayed in a loop costs no
// signature check each time: they do not count against the failure budget.
const EXPIRED_REMEMBERED = 1000;

/**
 * Whether a bearer token is a JWT rather than one of our opaque tokens
 * (`cc_…`, or an operator's chosen admin token): three base64url parts, the
 * first a JSON object. Opaque tokens have no such header, so neither kind is
 * mistaken for the other. Whatever its length: one too long is refused as
 * such by the verifier, not as an unknown token.
 */
export function looksLikeJwt(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false;
  const header = Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8');
  return header.trimStart().startsWith('{');
}

/**
 * Verifies JWTs minted by an application's backend (jose: signature, `alg`
 * allow-list, `exp`, `nbf`, `aud`, `iss`), and remembers each verified token
 * by its hash until it expires, so a crowd reconnecting with the same token
 * costs one signature check, not one each. Bounded: past `maxCached` the
 * least recently used is checked again next time.
 */
export class JwtVerifier {
  readonly #options: JwtOptions;
  readonly #verified: LRUCache<string, VerifiedJwt>;
  /** Hashes of tokens found expired: once expired, a token stays so. */
  readonly #expired = new LRUCache<string, true>({ max: EXPIRED_REMEMBERED, ttl: REMEMBER_AT_MOST_MS });
  readonly #algorithms: string[];
  readonly #verifications: Record<JwtOutcome, number> = { accepted: 0, expired: 0, refused: 0 };
  #cacheHits = 0;

  constructor(options: JwtOptions, maxCached: number) {
    this.#options = options;
    this.#algorithms = [...options.algorithms];
    this.#verified = new LRUCache<string, VerifiedJwt>({ max: maxCached });
  }

  /** The token as verified before, if it still holds; no signature check. */
  cached(token: string): VerifiedJwt | undefined {
    const hit = this.#verified.get(hashToken(token));
    if (hit) this.#cacheHits++;
    return hit;
  }

  /**
   * @throws CodecastError token_expired — only for a token whose signature,
   *   audience and issuer verify (jose checks `exp` after them) — or
   *   unauthorized, each saying what is wrong.
   */
  async verify(token: string): Promise<VerifiedJwt> {
    if (token.length > MAX_JWT_CHARS) {
      throw new CodecastError('unauthorized', `The JWT is too long: this server takes JWTs of at most ${MAX_JWT_CHARS} characters.`);
    }
    const hash = hashToken(token);
    if (this.#expired.has(hash)) {
      this.#cacheHits++;
      throw expired();
    }
    try {
      const verified = await this.#verify(token, hash);
      this.#verifications.accepted++;
      return verified;
    } catch (error) {
      this.#verifications[error instanceof CodecastError && error.code === 'token_expired' ? 'expired' : 'refused']++;
      throw error;
    }
  }

  /** The signature check and the claims; verify() counts what came of it. */
  async #verify(token: string, hash: string): Promise<VerifiedJwt> {
    const { audience, issuer, clockSkewSeconds, maxLifetimeSeconds } = this.#options;
    let payload: { exp?: unknown; sub?: unknown };
    try {
      ({ payload } = await jwtVerify(token, (header) => this.#keyFor(header), {
        algorithms: this.#algorithms,
        audience: audience === undefined ? undefined : [...audience],
        issuer: issuer === undefined ? undefined : [...issuer],
        clockTolerance: clockSkewSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) this.#expired.set(hash, true);
      throw this.#refusal(error, token);
    }
    const { exp, sub } = payload as { exp: number; sub: unknown };
    if (typeof sub !== 'string' || !USERNAME_PATTERN.test(sub)) {
      throw new CodecastError(
        'unauthorized',
        'The JWT\'s sub must be a username: 1-64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit.',
      );
    }
    const nowMs = Date.now();
    if (maxLifetimeSeconds !== null && exp * 1000 - nowMs > (maxLifetimeSeconds + clockSkewSeconds) * 1000) {
      throw new CodecastError(
        'unauthorized',
        `The JWT's exp is too far ahead: this server takes tokens that expire within ${maxLifetimeSeconds} s; mint shorter-lived ones.`,
      );
    }
    // jose accepts a token until exp + skew: it is remembered no longer.
    const verified: VerifiedJwt = { subject: sub, expiresAtMs: exp * 1000 };
    const ttl = Math.min(REMEMBER_AT_MOST_MS, Math.floor(exp * 1000 + clockSkewSeconds * 1000 - nowMs));
    if (ttl > 0) this.#verified.set(hash, verified, { ttl });
    return verified;
  }

  stats(): JwtVerifierStats {
    return { verifications: { ...this.#verifications }, cacheHits: this.#cacheHits, cached: this.#verified.size };
  }

  /** The key for the token's `alg` (jose has checked it against the allow-list first). */
  #keyFor(header: JWTHeaderParameters): KeyObject {
    const key = header.alg.startsWith('HS') ? this.#options.secret : this.#options.publicKey;
    // Unreachable while the config checks every algorithm against the keys.
    if (key === undefined) throw new errors.JOSEAlgNotAllowed(`no key for ${header.alg}`);
    return key;
  }

  /** What the client is told, by what jose found; anything else is a fault of ours. */
  #refusal(error: unknown, token: string): unknown {
    if (error instanceof errors.JWTExpired) return expired();
    if (error instanceof errors.JWTClaimValidationFailed) return new CodecastError('unauthorized', claimMessage(error.claim, error.reason));
    if (error instanceof errors.JOSEAlgNotAllowed) {
      return new CodecastError(
        'unauthorized',
        `The JWT's alg is not one this server accepts (it accepts ${this.#algorithms.join(', ')}; never "none").`,
      );
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return new CodecastError('unauthorized', "The JWT's signature does not verify: it was not signed with the key this server knows.");
    }
    // jose refuses a header naming in `crit` an extension it does not
    // implement (RFC 7515 §4.1.11: the token must then be rejected).
    if (error instanceof errors.JOSENotSupported && hasCrit(token)) {
      return new CodecastError(
        'unauthorized',
        "The JWT's header lists in crit an extension this server does not understand, so it must refuse the token; leave crit out.",
      );
    }
    if (error instanceof errors.JOSEError) {
      return new CodecastError('unauthorized', 'The JWT is malformed: three base64url parts, a JSON header and a JSON claims set.');
    }
    return error;
  }
}

function hasCrit(token: string): boolean {
  try {
    return decodeProtectedHeader(token).crit !== undefined;
  } catch {
    return false;
  }
}

function expired(): CodecastError {
  return new CodecastError('token_expired', 'The JWT has expired (its exp is past, beyond the allowed clock skew); mint a new one.');
}

function claimMessage(claim: string, reason: string): string {
  const missing = reason === 'missing';
  switch (claim) {
    case 'exp':
      return missing ? 'The JWT has no exp: a connection token must expire.' : "The JWT's exp must be a number (seconds since 1970).";
    case 'sub':
      return 'The JWT has no sub: it names the user to connect as.';
    case 'nbf':
      return reason === 'invalid'
        ? "The JWT's nbf must be a number (seconds since 1970)."
        : 'The JWT is not valid yet (its nbf is in the future, beyond the allowed clock skew).';
    case 'aud':
      return missing ? 'The JWT has no aud, and this server wants one it accepts.' : "The JWT's aud does not name this server.";
    case 'iss':
      return missing ? 'The JWT has no iss, and this server wants one it accepts.' : "The JWT's iss is not an issuer this server accepts.";
    case 'iat':
      return "The JWT's iat must be a number (seconds since 1970).";
    default:
      return 'The JWT is not valid.';
  }
}
