import { postgresUnavailableReason } from './postgres-errors.js';
import { DatabaseUnavailableError, type UnavailableReason } from '../domain/errors.js';

// The error class lives in the domain, so the core can tell an outage from a
// bug without importing the store; which driver errors are outages is still
// decided here, and only here.
export { DatabaseUnavailableError, unavailableMessage, type UnavailableReason } from '../domain/errors.js';

// SQLite's primary result codes that mean "not now" rather than "wrong
// query" (https://sqlite.org/rescode.html); extended codes share the prefix.
const CANNOT_WRITE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;
const BUSY = /^SQLITE_(BUSY|LOCKED)/;
// better-sqlite3 and Kysely say so in words, not codes, once closed.
const CLOSED = /database connection is not open|driver has already been destroyed/i;

/** The reason a driver error means the database cannot serve now, or undefined. */
export function unavailableReason(error: unknown): UnavailableReason | undefined {
  if (error instanceof DatabaseUnavailableError) return error.reason;
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (error.name === 'SqliteError' && typeof code === 'string') {
    if (CANNOT_WRITE.test(code)) return 'cannot_write';
    if (BUSY.test(code)) return 'busy';
    return undefined;
  }
  const postgres = postgresUnavailableReason(error);
  if (postgres !== undefined) return postgres;
  return CLOSED.test(error.message) ? 'closed' : undefined;
}

/** The error as the store throws it: unavailable errors become `DatabaseUnavailableError`. */
export function asStoreError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const reason = unavailableReason(error);
  if (reason === undefined) return error;
  const code = (error as { code?: unknown }).code;
  const detail = `${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`;
  return new DatabaseUnavailableError(reason, detail, { cause: error });
}

/**
 * Whether an error means the database cannot serve now (full, read-only,
 * failing, locked, gone, closed) rather than that our query is wrong.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return unavailableReason(error) !== undefined;
}
