import type { DatabaseTarget } from '../config/index.js';
import { SQLITE_BUSY_TIMEOUT_MS } from './sqlite-database.js';

/**
 * The longest the store lets a statement wait for the database to let it in
 * before giving up: on PostgreSQL the connect timeout (a connection from the
 * pool or a new one), on SQLite the busy timeout (another connection's
 * lock). Work queued behind a statement may use it as its own bound: past
 * it, the database is not serving, whatever the statement ahead still waits
 * for.
 */
export function databaseWaitMs(target: DatabaseTarget): number {
  switch (target.driver) {
    case 'sqlite':
      return SQLITE_BUSY_TIMEOUT_MS;
    case 'postgres':
      return target.connectTimeoutMs;
  }
}
