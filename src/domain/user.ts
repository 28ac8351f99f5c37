import { createHash, randomBytes } from 'node:crypto';
import { CodecastError } from './errors.js';
import { INVISIBLE, canonicalText, charCount } from './text.js';

export type Role = 'user' | 'admin';

export interface User {
  readonly id: number;
  readonly username: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: string;
}

/** Who a request or connection acts as: the user and the token it used. */
export interface Principal {
  readonly user: User;
  /** The id of the opaque token used; null when it was a JWT, which has no row of its own. */
  readonly tokenId: number | null;
}

/** ASCII only, so case folds one way; unique regardless of case (`Alice` and `alice` are one name). */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export const LABEL_MAX_CHARS = 100;

/**
 * A token's label as stored: trimmed, NFC, no control or invisible format
 * characters (it is shown in the admin page and the CLI's listings); null
 * when absent or blank.
 * @throws CodecastError invalid_request naming the field `label`.
 */
export function tokenLabel(label: string | null | undefined): string | null {
  if (label === undefined || label === null) return null;
  const text = canonicalText(label);
  if (text === undefined || INVISIBLE.test(text)) {
    throw new CodecastError('invalid_request', 'A token label must be printable text: no control or invisible format characters.', {
      field: 'label',
    });
  }
  if (charCount(text) > LABEL_MAX_CHARS) {
    throw new CodecastError('invalid_request', `A token label must be at most ${LABEL_MAX_CHARS} characters.`, { field: 'label' });
  }
  return text === '' ? null : text;
}

const TOKEN_PREFIX = 'cc_';
// Our tokens are `cc_` and 43 base64url characters; an operator may choose
// the first admin's token, so any 16-256 visible ASCII characters pass.
const TOKEN_PATTERN = /^[\x21-\x7e]{16,256}$/;

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Tokens not of our shape are rejected before any lookup. */
export function looksLikeToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/**
 * Tokens are 256 random bits, so a plain SHA-256 is enough to store them:
 * a slow password hash guards low-entropy secrets, which these are not, and
 * would cost every uncached authentication milliseconds.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
