import type { ErrorBody } from './wire.js';

/**
 * Why a connection ended or a request failed. `code` is the server's machine
 * code when it gave one (`unauthorized`, `user_disabled`, `server_full`,
 * `slow_consumer`, `code_revoked`…), else one of the client's own:
 *
 * - `network_error`: the server could not be reached, or the connection broke;
 * - `stream_ended`: the server ended the stream without saying why;
 * - `shutdown`: the server is stopping (it said `shutdown`);
 * - `timeout`: nothing arrived for two heartbeats (or for the connect timeout);
 * - `offline`: the browser says the network is gone;
 * - `bad_response`: an answer that is not codecast's (a proxy's page, say, or
 *   an event stream with a frame over 1 MiB);
 * - `closed`: `history()` or `ack()` was still waiting when `close()` was called.
 */
export class CodecastClientError extends Error {
  override readonly name = 'CodecastClientError';

  constructor(
    readonly code: string,
    message: string,
    readonly details: {
      /** The HTTP status; for a WebSocket close code 44xx, the status it echoes (4401 → 401). */
      readonly status?: number;
      /** The WebSocket close code, when the connection was a WebSocket. */
      readonly closeCode?: number;
      /** True when retrying cannot help (codecast's own 401, 403 or 400): the subscription stops. */
      readonly final?: boolean;
      /** How long the server asked to wait (Retry-After, or the `shutdown` delay). */
      readonly retryAfterMs?: number;
    } = {},
  ) {
    super(message);
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get final(): boolean {
    return this.details.final === true;
  }

  get retryAfterMs(): number | undefined {
    return this.details.retryAfterMs;
  }
}

/**
 * The messages of the errors a WebSocket refusal names only by code (a close
 * frame has room for the code, not the sentence); the same words as the
 * server's catalog (src/domain/errors.ts), which a test keeps in step.
 */
export const REFUSAL_MESSAGES: Readonly<Record<string, string>> = {
  unauthorized: 'A valid bearer token is required.',
  token_revoked: 'The token was revoked.',
  forbidden: 'This token may not do that.',
  user_disabled: 'This user is disabled.',
  invalid_request: 'The request is not valid.',
  too_many_connections_for_user: 'This user has as many open connections as allowed.',
  too_many_auth_failures: 'Too many refused tokens from this address; wait before trying again.',
  too_many_messages: 'This client sends more messages than allowed; slow down.',
  server_full: 'The server holds as many connections as allowed; retry later.',
  shutting_down: 'The server is stopping; reconnect shortly.',
  slow_consumer: 'The connection fell too far behind and was closed; it resumes where it stopped.',
  stale: 'The server saw no sign of life from this connection and closed it.',
};

/**
 * The statuses after which retrying cannot help, when codecast gave them: a
 * token refused (401), a user or an origin not allowed (403), a request it
 * cannot take (400). Any other answer — codecast's 404 or 429, a proxy's own
 * HTML 404 or 502 while the backend is away — is retried with backoff.
 */
const FINAL_STATUSES = new Set([400, 401, 403]);

/** Retry-After in seconds (the only form codecast sends), as milliseconds. */
function retryAfterMsOf(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header) * 1000;
}

/** Whether a parsed body is codecast's error shape, `{"error": code, "message": …}`. */
function isErrorBody(body: unknown): body is ErrorBody {
  const candidate = body as Partial<ErrorBody> | null | undefined;
  return typeof candidate?.error === 'string' && typeof candidate.message === 'string';
}

/** The error of a non-2xx HTTP answer, from codecast's JSON body when it is one. */
export async function errorOfResponse(response: Response): Promise<CodecastClientError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const ours = isErrorBody(body);
  const details = {
    status: response.status,
    final: ours && FINAL_STATUSES.has(response.status),
    retryAfterMs: retryAfterMsOf(response.headers.get('retry-after')),
  };
  if (isErrorBody(body)) return new CodecastClientError(body.error, body.message, details);
  return new CodecastClientError(
    'bad_response',
    `The server answered ${response.status} ${response.statusText}.`.replace(' .', '.'),
    details,
  );
}

/** WebSocket close codes after which reconnecting cannot help: 4400 bad request, 4401, 4403. */
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403]);

/** The error of a WebSocket that closed; `reason` is the server's machine code when it gave one. */
export function errorOfClose(closeCode: number, reason: string): CodecastClientError {
  // Our 4xxx codes echo an HTTP status in their last three digits (docs/PROTOCOL.md).
  const status = closeCode >= 4400 && closeCode < 4600 ? closeCode - 4000 : undefined;
  const details = { closeCode, final: FINAL_CLOSE_CODES.has(closeCode), ...(status === undefined ? {} : { status }) };
  if (closeCode === 1001 && reason === 'shutdown') return new CodecastClientError('shutdown', 'The server is restarting.', details);
  const code = /^[a-z_]+$/.test(reason) ? reason : closeCode === 1006 ? 'network_error' : 'stream_ended';
  const message =
    REFUSAL_MESSAGES[code] ??
    (code === 'network_error'
      ? 'The connection was lost.'
      : `The server closed the connection (${closeCode}${reason ? ` ${reason}` : ''}).`);
  return new CodecastClientError(code, message, details);
}
