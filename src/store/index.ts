export { Store, StoreOpenError, type StoreEvents, type StoreHealth } from './store.js';
export { databaseWaitMs, publishConcurrency } from './database-wait.js';
export { SqliteOwnerLock } from './sqlite-owner-lock.js';
export { DatabaseUnavailableError, isDatabaseUnavailable, type UnavailableReason } from './unavailable.js';
export type { CodeRecord, AckFigures, AckRow } from './code-repository.js';
export type { TokenInfo } from './user-repository.js';
export type { AuditEntry, AuditInput } from './audit-repository.js';
export type { AuthEvent, AuthEventKind } from './auth-event-repository.js';
export { backupSqlite, BackupRefusedError, type BackupResult } from './sqlite-backup.js';
