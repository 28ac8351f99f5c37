import { CodecastError } from './errors.js';

/** A code as every transport delivers it. */
export interface Code {
  readonly id: number;
  readonly code: string;
  readonly value: number | null;
  readonly type: string | null;
  readonly message: string | null;
  readonly publishedAt: string;
  readonly expiresAt: string | null;
  readonly source: string;
}

/** A validated, normalised request to publish; the store gives it an id. */
export interface CodeDraft {
  readonly code: string;
  readonly value: number | null;
  readonly type: string | null;
  readonly message: string | null;
  readonly ttlSeconds: number | null;
  readonly source: string;
}

export const CODE_MAX_CHARS = 128;
export const MESSAGE_MAX_CHARS = 1000;
export const TTL_MAX_SECONDS = 365 * 24 * 3600;
export const WORD_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

// Control characters (Cc), line and paragraph separators, and unpaired
// surrogates are never printable; a newline in a code could otherwise break
// a line-based client even though our own framing escapes it.
const NOT_PRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}]/u;
// A message may span lines and hold tabs, nothing else unprintable.
const NOT_PRINTABLE_IN_MESSAGE = /[\p{Zl}\p{Zp}\u0000-\u0008\u000B-\u001F\u007F-\u009F]/u;

function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function invalid(field: string, message: string): never {
  throw new CodecastError('invalid_code', message, { field });
}

export interface CodeInput {
  code: string;
  value?: number | null | undefined;
  type?: string | null | undefined;
  message?: string | null | undefined;
  ttlSeconds?: number | null | undefined;
  source?: string | undefined;
}

/**
 * Turns untrusted publish input into a draft, or throws `invalid_code`
 * naming the field. `defaultValue` fills a missing value (a runtime setting).
 */
export function draftCode(input: CodeInput, defaultValue: number | null): CodeDraft {
  const code = input.code.trim();
  if (code.length === 0) invalid('code', 'The code must not be empty.');
  if (charCount(code) > CODE_MAX_CHARS) invalid('code', `The code must be at most ${CODE_MAX_CHARS} characters.`);
  if (NOT_PRINTABLE.test(code) || !code.isWellFormed()) {
    invalid('code', 'The code must be printable characters only (no newlines or control characters).');
  }
  const value = input.value ?? defaultValue;
  if (value !== null && !Number.isFinite(value)) invalid('value', 'The value must be a finite number.');
  const type = input.type ?? null;
  if (type !== null && !WORD_PATTERN.test(type)) {
    invalid('type', 'The type must be a short word: letters, digits, "_", "-" or ".", at most 32.');
  }
  // Windows line endings are taken as plain newlines rather than refused.
  const message = input.message === undefined || input.message === null ? null : input.message.replace(/\r\n?/g, '\n').trim();
  if (message !== null) {
    if (charCount(message) > MESSAGE_MAX_CHARS) invalid('message', `The message must be at most ${MESSAGE_MAX_CHARS} characters.`);
    if (NOT_PRINTABLE_IN_MESSAGE.test(message) || !message.isWellFormed()) {
      invalid('message', 'The message must not hold control characters other than newlines and tabs.');
    }
  }
  const ttl = input.ttlSeconds ?? null;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MAX_SECONDS)) {
    invalid('ttlSeconds', `ttlSeconds must be a whole number from 1 to ${TTL_MAX_SECONDS}.`);
  }
  const source = input.source ?? 'api';
  if (!WORD_PATTERN.test(source)) invalid('source', 'The source must be a short word.');
  return { code, value, type, message: message === '' ? null : message, ttlSeconds: ttl, source };
}

/** The key under which two publishes count as the same code. */
export function dedupKey(code: string, caseInsensitive: boolean): string {
  return caseInsensitive ? code.toLowerCase() : code;
}

export function isExpired(code: Pick<Code, 'expiresAt'>, nowMs: number): boolean {
  return code.expiresAt !== null && Date.parse(code.expiresAt) <= nowMs;
}
