import type { SqliteStatement } from 'kysely';
import type { Statement } from 'better-sqlite3';
import type { FileIdentity } from './file-identity.js';
import { DatabaseUnavailableError, asStoreError, type UnavailableReason } from './unavailable.js';

/** Whether the database takes writes now, and if not, since when and why. */
export type WriteHealth =
  | { readonly writable: true }
  | { readonly writable: false; readonly reason: UnavailableReason; readonly detail: string; readonly sinceMs: number };

/** Hears write health change: once when writes start failing, once when they work again. */
export interface WriteHealthListener {
  writesFailed(error: DatabaseUnavailableError): void;
  writesResumed(): void;
  /** Once: the file the server has open is no longer the one at its path. */
  fileGone(detail: string): void;
  /** The same file is back at its path (it had been moved away and back). */
  fileBack(): void;
  /** Once at start: another process holds the start-up lock (it is migrating); this one waits. */
  waitingForLock?(): void;
}

/** The slice of better-sqlite3's connection the guard reads. */
export interface TransactionState {
  readonly inTransaction: boolean;
}

const NO_ROWS_CHANGED = Object.freeze({ changes: 0, lastInsertRowid: 0 });

/**
 * Sits between Kysely and SQLite for every statement that writes (and for
 * COMMIT and ROLLBACK), and so knows the outcome of every write:
 *
 * - a write that fails because the database cannot take writes (disk full,
 *   read-only, I/O error) marks the store unwritable and is rethrown as
 *   `DatabaseUnavailableError`; a write that commits marks it writable again.
 *   A write inside a transaction counts only at its COMMIT, since only the
 *   commit says the data is stored.
 * - ROLLBACK of a transaction SQLite has already rolled back itself (it does
 *   on SQLITE_FULL and some I/O errors) is a no-op. Kysely sends ROLLBACK
 *   after any failure, and the "cannot rollback - no transaction is active"
 *   it would get replaced the real error: a full disk answered 500.
 * - Once the database file is gone from its path, every write is refused
 *   before it runs: it would land in a file nobody can open again. The file
 *   is looked at before every commit (an autocommit write or a COMMIT), so
 *   not even the writes between two periodic checks are lost.
 */
export class WriteGuard {
  #failure: { reason: UnavailableReason; detail: string; sinceMs: number } | undefined;
  #gone: { detail: string; sinceMs: number } | undefined;

  constructor(
    private readonly connection: TransactionState,
    private readonly identity: FileIdentity | undefined,
    private readonly listener: WriteHealthListener,
  ) {}

  get health(): WriteHealth {
    if (this.#gone) return { writable: false, reason: 'file_gone', ...this.#gone };
    if (this.#failure) return { writable: false, ...this.#failure };
    return { writable: true };
  }

  /**
   * The file at the database's path is not the one open. Lasts until the
   * same file is back at the path (moved back); a deleted one never is.
   */
  fileGone(detail: string): void {
    if (this.#gone) return;
    this.#gone = { detail, sinceMs: Date.now() };
    this.listener.fileGone(detail);
  }

  /** The file at the path is the one open (again). */
  fileBack(): void {
    if (!this.#gone) return;
    this.#gone = undefined;
    this.listener.fileBack();
  }

  /**
   * What Kysely gets from `prepare`: a guarded statement for writes, and for
   * reads one whose errors are the store's own (a read fails busy when
   * another connection holds the file locked past the busy timeout; any
   * statement fails once the connection is closed).
   */
  wrap(sql: string, statement: Statement): SqliteStatement {
    const text = sql.trim().toLowerCase();
    if (text === 'rollback') return new RollbackStatement(statement, this.connection);
    if (text === 'commit') return new GuardedStatement(statement, this, true);
    if (!statement.readonly) return new GuardedStatement(statement, this, false);
    return new ReadStatement(statement);
  }

  /**
   * @param commits whether this statement is a COMMIT; a write outside a
   *   transaction commits too.
   * @throws DatabaseUnavailableError when the file is gone.
   */
  beforeWrite(commits: boolean): void {
    if (this.identity && (commits || !this.connection.inTransaction)) {
      const change = this.identity.changeSync();
      if (change === undefined) this.fileBack();
      else this.fileGone(change);
    }
    if (this.#gone) throw new DatabaseUnavailableError('file_gone', this.#gone.detail);
  }

  afterWrite(): void {
    // Inside a transaction nothing is stored yet; its COMMIT will say.
    if (this.connection.inTransaction || this.#failure === undefined) return;
    this.#failure = undefined;
    this.listener.writesResumed();
  }

  failedWrite(error: unknown): unknown {
    const mapped = asStoreError(error);
    if (mapped instanceof DatabaseUnavailableError && mapped.reason === 'cannot_write') {
      const first = this.#failure === undefined;
      this.#failure = { reason: mapped.reason, detail: mapped.detail, sinceMs: this.#failure?.sinceMs ?? Date.now() };
      if (first) this.listener.writesFailed(mapped);
    }
    return mapped;
  }
}

/** A writing statement whose every run reports to the guard. Made once per SQL text. */
class GuardedStatement implements SqliteStatement {
  readonly reader: boolean;

  constructor(
    private readonly statement: Statement,
    private readonly guard: WriteGuard,
    private readonly commits: boolean,
  ) {
    this.reader = statement.reader;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    this.guard.beforeWrite(this.commits);
    let rows: unknown[];
    try {
      rows = this.statement.all(parameters);
    } catch (error) {
      throw this.guard.failedWrite(error);
    }
    this.guard.afterWrite();
    return rows;
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    this.guard.beforeWrite(this.commits);
    let result: { changes: number | bigint; lastInsertRowid: number | bigint };
    try {
      result = this.statement.run(parameters);
    } catch (error) {
      throw this.guard.failedWrite(error);
    }
    this.guard.afterWrite();
    return result;
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    this.guard.beforeWrite(this.commits);
    try {
      return this.statement.iterate(parameters);
    } catch (error) {
      throw this.guard.failedWrite(error);
    }
  }
}

/** A reading statement whose errors are the store's: an outage is `DatabaseUnavailableError`. */
class ReadStatement implements SqliteStatement {
  readonly reader: boolean;

  constructor(private readonly statement: Statement) {
    this.reader = statement.reader;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    try {
      return this.statement.all(parameters);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    try {
      return this.statement.run(parameters);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    try {
      return this.statement.iterate(parameters);
    } catch (error) {
      throw asStoreError(error);
    }
  }
}

/** ROLLBACK that is a no-op when SQLite has already rolled the transaction back. */
class RollbackStatement extends ReadStatement {
  override readonly reader = false;

  constructor(
    statement: Statement,
    private readonly connection: TransactionState,
  ) {
    super(statement);
  }

  override all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.connection.inTransaction ? super.all(parameters) : [];
  }

  override run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.connection.inTransaction ? super.run(parameters) : NO_ROWS_CHANGED;
  }
}
