import { CodecastError } from './errors.js';

/** The transports a subscriber may connect with. */
export type TransportName = 'sse' | 'ws' | 'socketio';

/**
 * The token of an `Authorization: Bearer …` header; undefined when there is
 * no header. A header of another shape is refused rather than ignored, so a
 * typo never falls back to some other credential.
 */
export function bearerFromHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new CodecastError('unauthorized', 'The Authorization header must be "Bearer <token>".');
  return match[1];
}

// Plain decimal digits and nothing else: no sign, no spaces, no `0x`, `0b`,
// exponent or fraction, no digits of other scripts (`٢`). `Number()` and
// Ajv's coercion accept most of those, which makes one id have many spellings.
const PLAIN_DECIMAL = /^[0-9]{1,16}$/;

/**
 * A whole number written as plain decimal digits (`"42"`), within the safe
 * integer range; undefined for anything else.
 */
export function plainDecimal(text: string): number | undefined {
  if (!PLAIN_DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * A "last id seen" from a client (`since`, `Last-Event-ID`, `auth.since`):
 * a whole number, given as a number or as plain decimal digits; undefined
 * when absent.
 */
export function parseSince(value: unknown, name = 'since'): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n =
    typeof value === 'number'
      ? Number.isSafeInteger(value) && value >= 0
        ? value
        : undefined
      : typeof value === 'string'
        ? plainDecimal(value)
        : undefined;
  if (n === undefined) {
    throw new CodecastError('invalid_request', `${name} must be the id of a code: a whole number in plain decimal digits.`);
  }
  return n;
}
