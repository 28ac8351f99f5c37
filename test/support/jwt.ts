// What an application's backend does: holds a key and mints short-lived
// JWTs with jose. Keys are made here, per test run; `env` is what a codecast
// that accepts them is started with.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JWTPayload, SignJWT } from 'jose';

export const JWT_SECRET = 'codecast-test-jwt-secret-0123456789-abcdefgh';

export type SigningAlg = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
export const SIGNING_ALGS: readonly SigningAlg[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];

/** How the public key is handed to codecast, each of the forms CODECAST_JWT_PUBLIC_KEY takes. */
export type KeyForm = 'pem' | 'pem-escaped' | 'file' | 'jwk';

/** Seconds since 1970, as `exp`, `nbf` and `iat` count. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * Signs `claims` as given (no claim added) with `alg` and `key`; `header`
 * adds to the protected header (extensions it lists in `crit` are signed as
 * understood).
 */
export function sign(
  claims: JWTPayload,
  alg: string,
  key: KeyObject | Uint8Array,
  header: { readonly crit?: string[]; readonly [name: string]: unknown } = {},
): Promise<string> {
  const crit = Object.fromEntries((header.crit ?? []).map((name) => [name, true]));
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key, { crit });
}

/** An unsigned JWT (`alg: none`), written by hand: jose will not make one. */
export function unsignedJwt(claims: JWTPayload): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

export interface Backend {
  readonly alg: SigningAlg;
  /** The settings that make codecast accept this backend's tokens. */
  readonly env: Record<string, string>;
  /** The signing key (the secret's bytes for HS256). */
  readonly key: KeyObject | Uint8Array;
  /** The public key as PEM (SPKI); undefined for HS256. */
  readonly publicPem: string | undefined;
  /** A token for `sub`, good for 5 minutes; `claims` adds to or replaces the defaults (a claim set to undefined is left out). */
  mint(sub: string | undefined, claims?: JWTPayload): Promise<string>;
}

/**
 * A backend signing with `alg`: HS256 with JWT_SECRET, or a key pair made
 * now, its public half handed over in `form` (`file` writes it under `dir`).
 */
export function backend(alg: SigningAlg, form: KeyForm = 'pem', dir?: string): Backend {
  let key: KeyObject | Uint8Array;
  let publicKey: KeyObject | undefined;
  if (alg === 'HS256') {
    key = new TextEncoder().encode(JWT_SECRET);
  } else {
    const pair =
      alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : alg === 'ES256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
    key = pair.privateKey;
    publicKey = pair.publicKey;
  }
  const publicPem = publicKey?.export({ type: 'spki', format: 'pem' }).toString();
  const env: Record<string, string> = {};
  if (alg === 'HS256') env.CODECAST_JWT_SECRET = JWT_SECRET;
  else env.CODECAST_JWT_PUBLIC_KEY = publicKeySetting(publicKey as KeyObject, publicPem as string, form, dir);
  return {
    alg,
    env,
    key,
    publicPem,
    mint: (sub, claims = {}) => {
      const all: JWTPayload = { sub, exp: nowSeconds() + 300, ...claims };
      for (const name of Object.keys(all)) if (all[name] === undefined) delete all[name];
      return sign(all, alg, key);
    },
  };
}

function publicKeySetting(publicKey: KeyObject, pem: string, form: KeyForm, dir: string | undefined): string {
  switch (form) {
    case 'pem':
      return pem;
    case 'pem-escaped':
      return pem.trim().replaceAll('\n', '\\n');
    case 'jwk':
      return JSON.stringify(publicKey.export({ format: 'jwk' }));
    case 'file': {
      if (dir === undefined) throw new Error('a key file needs a directory');
      const path = join(dir, 'jwt-public.pem');
      writeFileSync(path, pem);
      return `@${path}`;
    }
  }
}
