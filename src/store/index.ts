export { Store } from './store.js';
export { isDatabaseUnavailable } from './database.js';
export { publicCode, type CodeRecord, type AckFigures, type AckRow } from './code-repository.js';
export type { TokenInfo } from './user-repository.js';
export type { AuditEntry, AuditInput } from './audit-repository.js';
export type { AuthEvent, AuthEventKind } from './auth-event-repository.js';
