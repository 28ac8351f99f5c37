import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const PUBLIC_KEY_FORMS = 'a PEM public key or certificate, @/path/to/key.pem, or a public JWK (JSON)';

/** The JWT algorithms codecast verifies; `none` is not one of them, and never will be. */
export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const HMAC: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA_PSS: readonly JwtAlgorithm[] = ['PS256', 'PS384', 'PS512'];
const RSA: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', ...RSA_PSS];
const EC_CURVES: Readonly<Record<string, JwtAlgorithm>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used"; jose refuses smaller ones too.
const RSA_MIN_BITS = 2048;

/** The algorithms a key can verify: none for a key type no JWT algorithm uses. */
export function algorithmsFor(key: KeyObject): readonly JwtAlgorithm[] {
  if (key.type === 'secret') return HMAC;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA;
    case 'rsa-pss':
      return RSA_PSS;
    case 'ec': {
      const alg = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
      return alg === undefined ? [] : [alg];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      return [];
  }
}

/**
 * A public key as CODECAST_JWT_PUBLIC_KEY gives it: PEM text (an
 * environment that cannot hold newlines may write them as `\n`), a file
 * named after `@`, or a JWK. Node's crypto parses it, as jose would.
 *
 * A private key is refused rather than reduced to its public half: the
 * server needs only the public key, and a private key in its environment
 * lets whoever reads that environment mint tokens for any user.
 */
export function parsePublicKey(value: string): KeyObject | Error {
  let text = value.trim();
  if (text.startsWith('@')) {
    const path = text.slice(1);
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch (error) {
      return new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  let key: KeyObject;
  try {
    key = text.startsWith('{') ? fromJwk(text) : fromPem(text);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  if (algorithmsFor(key).length === 0) {
    const type = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : String(key.asymmetricKeyType);
    return new Error(`${type} keys verify no JWT algorithm codecast accepts; use RSA, EC P-256/P-384/P-521 or Ed25519`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < RSA_MIN_BITS) return new Error(`an RSA key of ${bits} bits is too small: at least ${RSA_MIN_BITS}`);
  return key;
}

function fromPem(text: string): KeyObject {
  const pem = text.includes('\n') ? text : text.replaceAll('\\n', '\n');
  if (!pem.startsWith('-----BEGIN ')) throw new Error('not PEM (no -----BEGIN line) and not a JWK');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new Error('a private key: give the public key only');
  try {
    return createPublicKey(pem);
  } catch {
    // OpenSSL's words ("DECODER routines::unsupported") help no one.
    throw new Error('the PEM is not a public key or certificate that can be read');
  }
}

function fromJwk(text: string): KeyObject {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error('a JWK must be JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error('a JWK must be a JSON object');
  const fields = jwk as Record<string, unknown>;
  if (fields.kty === 'oct') throw new Error('a symmetric JWK: put an HMAC secret in CODECAST_JWT_SECRET');
  if ('d' in fields) throw new Error('a private JWK: give the public key only');
  try {
    return createPublicKey({ key: fields as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new Error(`the JWK cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
}
