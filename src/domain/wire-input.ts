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

/**
 * A "last id seen" from a client (`since`, `Last-Event-ID`, `auth.since`):
 * a whole number, given as a number or as text; undefined when absent.
 */
export function parseSince(value: unknown, name = 'since'): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER) {
    throw new CodecastError('invalid_request', `${name} must be the id of a code: a whole number.`);
  }
  return Number(text);
}
