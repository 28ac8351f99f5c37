/**
 * The one catalog of errors a client can see. The machine code is stable;
 * the status is how HTTP shows it. Other transports map the same codes at
 * their edge. A test keeps this catalog and the README's error table in step.
 */
export const errorCatalog = {
  unauthorized: { status: 401, message: 'A valid bearer token is required.' },
  token_expired: { status: 401, message: 'The token has expired; get a new one.' },
  forbidden: { status: 403, message: 'This token may not do that.' },
  user_disabled: { status: 403, message: 'This user is disabled.' },
  origin_not_allowed: {
    status: 403,
    message: "Pages of this origin may not connect: it is not in the server's CODECAST_ALLOWED_ORIGINS.",
  },
  not_found: { status: 404, message: 'Nothing is here.' },
  code_not_found: { status: 404, message: 'No code has that id.' },
  user_not_found: { status: 404, message: 'No user has that name.' },
  token_not_found: { status: 404, message: 'No token has that id.' },
  connection_not_found: { status: 404, message: 'No open connection of yours has that id.' },
  invalid_request: { status: 400, message: 'The request is not valid.' },
  malformed_json: { status: 400, message: 'The body is not valid JSON.' },
  invalid_code: { status: 400, message: 'The code is not valid.' },
  duplicate_code: { status: 409, message: 'The same code was published moments ago.' },
  code_revoked: { status: 409, message: 'The code is already revoked.' },
  code_expired: { status: 410, message: 'The code has expired.' },
  user_exists: { status: 409, message: 'A user with that name exists already.' },
  idempotency_key_reused: {
    status: 422,
    message: 'This Idempotency-Key was used for a different request.',
  },
  request_timeout: { status: 408, message: 'The request did not arrive in time.' },
  headers_too_large: { status: 431, message: 'The request line and headers are larger than the server accepts.' },
  payload_too_large: { status: 413, message: 'The body is larger than the server accepts.' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  too_many_connections_for_user: {
    status: 429,
    message: 'This user has as many open connections as allowed.',
  },
  pong_too_frequent: { status: 429, message: 'Pong less often.' },
  too_many_messages: { status: 429, message: 'This client sends more messages than allowed; slow down.' },
  too_many_auth_failures: {
    status: 429,
    message: 'Too many refused tokens from this address; wait before trying again.',
  },
  too_many_pending_connections: {
    status: 429,
    message: 'Too many connections from this address are waiting to authenticate; retry shortly.',
  },
  server_busy: { status: 503, message: 'Too many connections are waiting to authenticate; retry shortly.' },
  server_full: { status: 503, message: 'The server holds as many connections as allowed; retry later.' },
  database_unavailable: { status: 503, message: 'The database cannot be reached; retry later.' },
  broker_unavailable: { status: 503, message: 'The cluster cannot share a code now (Redis is not reachable); retry shortly.' },
  shutting_down: { status: 503, message: 'The server is stopping; reconnect shortly.' },
  internal_error: { status: 500, message: 'Something went wrong on the server.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** An error a client may see: a catalog code, a message for a person, optional details. */
export class CodecastError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Readonly<Record<string, unknown>>,
    /** Seconds a client should wait before retrying (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message ?? errorCatalog[code].message);
    this.name = 'CodecastError';
    this.status = errorCatalog[code].status;
  }
}

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
 * these are (it classifies them, `store/unavailable.ts`); everything outside
 * it sees this class. Here, not in the store, so that the core can recognise
 * it without importing the store.
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
