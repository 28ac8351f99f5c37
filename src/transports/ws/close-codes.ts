import type { ErrorCode } from '../../domain/index.js';
import type { CloseReason } from '../../hub/index.js';

/**
 * WebSocket close codes, one per way a connection ends; docs/PROTOCOL.md
 * holds the same table. 1000-1015 are RFC 6455's; 4000-4999 are ours, the
 * last three digits echoing the HTTP status of the same refusal.
 */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
  slowConsumer: 4001,
  badRequest: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  stale: 4408,
  tooManyRequests: 4429,
} as const;

export const CLOSE_FOR_REASON: Record<CloseReason, { code: number; reason: string }> = {
  client_closed: { code: WS_CLOSE.normal, reason: 'closed' },
  slow_consumer: { code: WS_CLOSE.slowConsumer, reason: 'slow_consumer' },
  stale: { code: WS_CLOSE.stale, reason: 'stale' },
  shutdown: { code: WS_CLOSE.goingAway, reason: 'shutdown' },
  user_disabled: { code: WS_CLOSE.forbidden, reason: 'user_disabled' },
  token_revoked: { code: WS_CLOSE.unauthorized, reason: 'token_revoked' },
  protocol_error: { code: WS_CLOSE.unsupportedData, reason: 'protocol_error' },
  // Past its inbound budget (CODECAST_INBOUND_RATE/BURST): 4429, as HTTP's 429.
  too_many_messages: { code: WS_CLOSE.tooManyRequests, reason: 'too_many_messages' },
  error: { code: WS_CLOSE.internalError, reason: 'error' },
};

/** The close code for a refused connection (auth, caps), by error code. */
export function closeCodeForError(error: ErrorCode): number {
  switch (error) {
    case 'unauthorized':
    case 'token_expired':
      return WS_CLOSE.unauthorized;
    case 'forbidden':
    case 'user_disabled':
      return WS_CLOSE.forbidden;
    case 'too_many_connections_for_user':
    case 'too_many_auth_failures':
    case 'too_many_messages':
    case 'too_many_pending_connections':
      return WS_CLOSE.tooManyRequests;
    case 'server_full':
    case 'server_busy':
    case 'shutting_down':
    case 'database_unavailable':
      return WS_CLOSE.tryAgainLater;
    case 'invalid_request':
      return WS_CLOSE.badRequest;
    default:
      return WS_CLOSE.internalError;
  }
}
