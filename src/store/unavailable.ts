import { postgresUnavailableReason } from './postgres-errors.js';

/**
 * Why the database cannot serve now:
 * - `cannot_write`: the disk is full, the file system or file is read-only,
 *   or the disk answers with I/O errors; reads may still work;
 * - `busy`: another process holds the database locked for longer than the
 *   busy timeout;
 * - `file_gone`: the file the server has open is no longer the one at its
 *   path (deleted, moved or replaced), so whatever it stored would be lost;
 * - `unreachable`: the database server cannot be reached, refused or
 *   dropped the connection, or is starting or shutting down;
 * - `closed`: the store was closed (the server is stopping).
 */
export type UnavailableReason = 'cannot_write' | 'busy' | 'file_gone' | 'unreachable' | 'closed';

const CLIENT_MESSAGES: Record<UnavailableReason, string> = {
  cannot_write: 'The database cannot take writes now (disk full, read-only or failing); retry later.',
  busy: 'The database is busy; retry later.',
  file_gone: 'The database file is gone from its path; writes are refused until an operator puts it back or restarts the server.',
  unreachable: 'The database cannot be reached; retry later.',
  closed: 'The database is closed; retry later.',
};

/** What a client is told for each reason; no driver detail. */
export function unavailableMessage(reason: UnavailableReason): string {
  return CLIENT_MESSAGES[reason];
}

/**
 * The one error the store throws when the database cannot serve now rather
 * than because a query is wrong. Only the store knows which driver errors
 * these are; everything outside it sees this class (or asks
 * `isDatabaseUnavailable`).
 */
export class DatabaseUnavailableError extends Error {
  constructor(
    readonly reason: UnavailableReason,
    /** What the driver said, for the log; never sent to a client. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(CLIENT_MESSAGES[reason], options);
    this.name = 'DatabaseUnavailableError';
  }
}

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
