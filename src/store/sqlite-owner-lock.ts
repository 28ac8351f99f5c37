import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';

/**
 * Marks an SQLite database as served by this process, so that a second
 * server started on the same file is refused instead of silently splitting
 * the subscribers between two processes that never hear each other's codes.
 *
 * The mark is an exclusive SQLite lock on a small file beside the database
 * (`PATH-server.lock`), held for the life of the connection: SQLite's file
 * locks are released by the kernel when the process dies, however it dies,
 * so a crash never leaves a stale lock behind (a PID file would). The
 * database itself is not locked: the CLI's user and token commands keep
 * working while the server runs.
 */
export class SqliteOwnerLock {
  private constructor(private readonly lock: SqliteDatabase.Database) {}

  /** The lock file of the database at `path`. */
  static pathOf(path: string): string {
    return `${path}-server.lock`;
  }

  /** @throws Error saying another codecast server holds the database. */
  static take(path: string): SqliteOwnerLock {
    const file = SqliteOwnerLock.pathOf(path);
    mkdirSync(dirname(file), { recursive: true });
    const lock = new SqliteDatabase(file, { timeout: 0 });
    try {
      // Exclusive mode keeps the lock after the first write commits, until close.
      lock.pragma('locking_mode = EXCLUSIVE');
      lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS served_by (pid INTEGER); COMMIT;');
    } catch (error) {
      lock.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(
          `another codecast server is running on sqlite:${path} (it holds ${file}). ` +
            'One SQLite file is served by one process; stop the other, or run several processes as a cluster on ' +
            'PostgreSQL and Redis (README: Running a cluster). The user and token commands work while it runs.',
        );
      }
      throw error;
    }
    return new SqliteOwnerLock(lock);
  }

  release(): void {
    if (this.lock.open) this.lock.close();
  }
}
