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

/**
 * How many publishes or revokes a process lets the database work on at
 * once. SQLite runs one statement at a time in this process: one. On
 * PostgreSQL the publish lock orders them inside the server, where it is
 * held only while the publish function runs, so a few in flight keep a
 * process's publishes from waiting on each other's round trips; half the
 * pool at most, so reads, logins and delivery figures always find a
 * connection.
 */
export function publishConcurrency(target: DatabaseTarget): number {
  switch (target.driver) {
    case 'sqlite':
      return 1;
    case 'postgres':
      return Math.max(1, Math.min(4, Math.floor(target.poolMax / 2)));
  }
}
