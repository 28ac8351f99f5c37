import { CodecastError } from './errors.js';
import { INVISIBLE, INVISIBLE_IN_MESSAGE, canonicalText, charCount } from './text.js';

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
  const code = canonicalText(input.code);
  if (code === undefined) invalid('code', 'The code must be well-formed text (no unpaired surrogates).');
  if (code.length === 0) invalid('code', 'The code must not be empty.');
  if (charCount(code) > CODE_MAX_CHARS) invalid('code', `The code must be at most ${CODE_MAX_CHARS} characters.`);
  if (INVISIBLE.test(code)) {
    invalid(
      'code',
      'The code must be printable characters only (no newlines, control, bidirectional or other invisible format characters).',
    );
  }
  const value = input.value ?? defaultValue;
  if (value !== null && !Number.isFinite(value)) invalid('value', 'The value must be a finite number.');
  const type = input.type ?? null;
  if (type !== null) word('type', type);
  // Windows line endings are taken as plain newlines rather than refused.
  const message = input.message === undefined || input.message === null ? null : canonicalText(input.message.replace(/\r\n?/g, '\n'));
  if (message === undefined) invalid('message', 'The message must be well-formed text (no unpaired surrogates).');
  if (message !== null) {
    if (charCount(message) > MESSAGE_MAX_CHARS) invalid('message', `The message must be at most ${MESSAGE_MAX_CHARS} characters.`);
    if (INVISIBLE_IN_MESSAGE.test(message)) {
      invalid(
        'message',
        'The message must not hold control, bidirectional or other invisible format characters (newlines and tabs are fine).',
      );
    }
  }
  const ttl = input.ttlSeconds ?? null;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MAX_SECONDS)) {
    invalid('ttlSeconds', `ttlSeconds must be a whole number from 1 to ${TTL_MAX_SECONDS}.`);
  }
  const source = input.source ?? 'api';
  word('source', source);
  return { code, value, type, message: message === '' ? null : message, ttlSeconds: ttl, source };
}

/** A type or source: a short ASCII word, so no invisible character can pass either. */
function word(field: 'type' | 'source', text: string): void {
  if (INVISIBLE.test(text)) invalid(field, `The ${field} must not hold control, bidirectional or other invisible format characters.`);
  if (!WORD_PATTERN.test(text)) {
    invalid(field, `The ${field} must be a short word: letters, digits, "_", "-" or ".", at most 32.`);
  }
}

/**
 * The key under which two publishes count as the same code: NFC (codes are
 * stored so already; normalising again keeps the key right whatever a
 * caller passes), and folded to lower case when the runtime setting says so.
 */
export function dedupKey(code: string, caseInsensitive: boolean): string {
  const nfc = code.normalize('NFC');
  return caseInsensitive ? nfc.toLowerCase().normalize('NFC') : nfc;
}

export function isExpired(code: Pick<Code, 'expiresAt'>, nowMs: number): boolean {
  return code.expiresAt !== null && Date.parse(code.expiresAt) <= nowMs;
}

/**
 * The code as subscribers see it, from any record that holds one (the
 * store's, with what only operators see): the fields of `Code`, named one by
 * one, so a field added to a record never leaks to a subscriber by default.
 */
export function publicCode(record: Code): Code {
  const { id, code, value, type, message, publishedAt, expiresAt, source } = record;
  return { id, code, value, type, message, publishedAt, expiresAt, source };
}
