import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { algorithmsFor, type JwtAlgorithm } from './jwt-keys.js';

/**
 * How JWTs minted by an application's backend are verified; absent from the
 * config when neither a secret nor a public key is set (then no JWT is
 * accepted). The keys are `KeyObject`s, which print as their type only: the
 * config can be inspected without showing a secret.
 */
export interface JwtConfig {
  /** HMAC secret for HS256/384/512. */
  readonly secret: KeyObject | undefined;
  /** Public key for RS*, PS*, ES* or EdDSA. */
  readonly publicKey: KeyObject | undefined;
  /** Accepted `alg` values, each verifiable by one of the keys. */
  readonly algorithms: readonly JwtAlgorithm[];
  /** When set, `aud` must name one of these. */
  readonly audience: readonly string[] | undefined;
  /** When set, `iss` must be one of these. */
  readonly issuer: readonly string[] | undefined;
  /** Leeway for `exp` and `nbf`. @default 30 */
  readonly clockSkewSeconds: number;
  /** Furthest `exp` may lie ahead of now; null: no limit. @default 86400 */
  readonly maxLifetimeSeconds: number | null;
}

/** The CODECAST_JWT_* values as the settings table parsed them, one by one. */
export interface JwtSettingValues {
  readonly secret: string | undefined;
  readonly publicKey: KeyObject | undefined;
  /** CODECAST_JWT_PUBLIC_KEY as given, to tell it apart from the secret. */
  readonly publicKeyText: string | undefined;
  readonly algorithms: readonly string[] | undefined;
  readonly audience: readonly string[] | undefined;
  readonly issuer: readonly string[] | undefined;
  readonly clockSkewSeconds: number;
  readonly maxLifetimeSeconds: number;
}

/**
 * The JWT settings taken together: what the keys can verify decides the
 * default algorithms and bounds the chosen ones. Adds each problem to
 * `problems`; answers undefined when no key is set.
 */
export function jwtConfig(values: JwtSettingValues, problems: string[]): JwtConfig | undefined {
  const published = values.secret === undefined ? undefined : publishedKeyIn(values.secret, values.publicKeyText);
  if (published !== undefined) {
    problems.push(
      `CODECAST_JWT_SECRET (its value is not shown) is not valid (${published}): a key is public or meant to be, and ` +
        'any HS256 token signed with this text would be accepted, whoever made it; give random bytes that only your ' +
        'backend and codecast know (`openssl rand -base64 48`), and a public key to CODECAST_JWT_PUBLIC_KEY',
    );
  }
  const secret = values.secret === undefined ? undefined : createSecretKey(Buffer.from(values.secret, 'utf8'));
  const { publicKey } = values;
  if (secret === undefined && publicKey === undefined) {
    const idle = (
      [
        ['CODECAST_JWT_ALGORITHMS', values.algorithms],
        ['CODECAST_JWT_AUDIENCE', values.audience],
        ['CODECAST_JWT_ISSUER', values.issuer],
      ] as const
    ).flatMap(([name, value]) => (value === undefined ? [] : [name]));
    if (idle.length > 0) {
      problems.push(
        `${idle.join(', ')} ${idle.length === 1 ? 'is' : 'are'} set, but no JWT is accepted without CODECAST_JWT_SECRET or ` +
          'CODECAST_JWT_PUBLIC_KEY: set a key, or unset them',
      );
    }
    return undefined;
  }
  const verifiable = [...(secret ? algorithmsFor(secret) : []), ...(publicKey ? algorithmsFor(publicKey) : [])];
  const chosen = (values.algorithms ?? verifiable) as readonly JwtAlgorithm[];
  const unverifiable = chosen.filter((alg) => !verifiable.includes(alg));
  if (unverifiable.length > 0) {
    problems.push(
      `CODECAST_JWT_ALGORITHMS names ${unverifiable.join(', ')}, which the configured key${secret && publicKey ? 's' : ''} cannot ` +
        `verify (${verifiable.join(', ')} can be)`,
    );
  }
  return Object.freeze({
    secret,
    publicKey,
    algorithms: Object.freeze([...new Set(chosen)]),
    audience: values.audience === undefined ? undefined : Object.freeze([...values.audience]),
    issuer: values.issuer === undefined ? undefined : Object.freeze([...values.issuer]),
    clockSkewSeconds: values.clockSkewSeconds,
    maxLifetimeSeconds: values.maxLifetimeSeconds === 0 ? null : values.maxLifetimeSeconds,
  });
}

/**
 * Why the HMAC secret is a key anyone may hold rather than a secret, if it
 * is one: the text of the public key (the setting's, or any PEM, JWK or
 * base64 DER one). An HMAC key is used as the bytes it is given, so a public
 * key pasted into CODECAST_JWT_SECRET lets whoever has the key mint tokens
 * — the algorithm-confusion attack, brought in by configuration. The
 * reason names the form, never the value.
 */
function publishedKeyIn(secret: string, publicKeyText: string | undefined): string | undefined {
  const text = secret.trim();
  if (publicKeyText !== undefined && text === publicKeyText.trim()) return 'it is the text of CODECAST_JWT_PUBLIC_KEY';
  if (text.includes('-----BEGIN')) return 'it holds a PEM key or certificate (a -----BEGIN line)';
  if (isJwk(text)) return 'it is a JWK (JSON with "kty" or "keys")';
  if (isDerPublicKey(text)) return 'it is a public key in base64 (the body of a PEM)';
  return undefined;
}

function isJwk(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && ('kty' in parsed || 'keys' in parsed);
  } catch {
    return false;
  }
}

function isDerPublicKey(text: string): boolean {
  // A random secret in base64 is no DER structure; the shortest public key (Ed25519's SPKI) is 60 characters.
  if (text.length < 60 || !/^[A-Za-z0-9+/=\s]+$/.test(text)) return false;
  try {
    createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    return true;
  } catch {
    return false;
  }
}
