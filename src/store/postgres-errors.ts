import type { UnavailableReason } from './unavailable.js';

// SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
// that mean "not now" rather than "wrong query".
const UNREACHABLE_STATES = /^(08...|57P0[123])$/; // connection exception; admin/crash shutdown; cannot connect now
const CANNOT_WRITE_STATES = /^(53100|25006|58030)$/; // disk full; read-only transaction (a standby); I/O error
const BUSY_STATES = /^(53...|57014|55P03|40001|40P01)$/; // out of resources, too many connections; statement timeout; lock; serialization, deadlock

// What the socket says when the server is away.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

// pg says these in words, without a code: a connection dropped, a connection
// attempt or a query that timed out on the client's side.
const UNREACHABLE_WORDS =
  /Connection terminated|Client has encountered a connection error|Query read timeout|Connection timeout|is not queryable/i;
// pg-pool's word for waiting longer than the connect timeout for one of its
// connections to come free: every one is busy, the server is not away.
const POOL_FULL_WORDS = /timeout exceeded when trying to connect/i;
const CLOSED_WORDS = /Cannot use a pool after calling end/i;

/** The reason an error from `pg` means PostgreSQL cannot serve now, or undefined. */
export function postgresUnavailableReason(error: Error): UnavailableReason | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return 'unreachable';
    // A SQLSTATE comes with a severity; a bare five-character code may be anything.
    if (/^[0-9A-Z]{5}$/.test(code) && 'severity' in error) {
      if (UNREACHABLE_STATES.test(code)) return 'unreachable';
      if (CANNOT_WRITE_STATES.test(code)) return 'cannot_write';
      if (BUSY_STATES.test(code)) return 'busy';
      return undefined;
    }
  }
  if (POOL_FULL_WORDS.test(error.message)) return 'busy';
  if (UNREACHABLE_WORDS.test(error.message)) return 'unreachable';
  if (CLOSED_WORDS.test(error.message)) return 'closed';
  return undefined;
}
