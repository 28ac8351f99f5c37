import { SERIAL_LOCK_KEYS } from './postgres-database.js';
import { describeDatabase, type DatabaseTarget } from '../config/index.js';
import { AuditRepository } from './audit-repository.js';
import { AuthEventRepository } from './auth-event-repository.js';
import { CodeRepository } from './code-repository.js';
import { migrateToLatest, openDatabase, ping, probeWrite } from './database.js';
import { RetentionRepository } from './retention-repository.js';
import { SettingsRepository } from './settings-repository.js';
import { DatabaseUnavailableError, unavailableMessage } from './unavailable.js';
import { UserRepository } from './user-repository.js';

export interface AccessRepositories {
  readonly users: UserRepository;
  readonly authEvents: AuthEventRepository;
  readonly audit: AuditRepository;
}

/** What the store reports as it runs; the composition root logs and counts it. */
export interface StoreEvents {
  /** Every query's duration, for metrics. */
  queried?(ms: number): void;
  /** Once when writes start failing (disk full, read-only, I/O error, server unreachable); `detail` is the driver's word. */
  writesFailed?(detail: string): void;
  /** Once when a write commits again after they failed. */
  writesResumed?(): void;
  /** Once: the file the server has open is no longer the one at its path. */
  fileGone?(detail: string): void;
  /** The same file is back at its path. */
  fileBack?(): void;
  /** Once at start: another process holds the start-up lock (migrating, or making the first admin); this one waits. */
  waitingForLock?(): void;
}

/** Whether the store can serve: `/readyz` answers from it. */
export type StoreHealth =
  | { readonly ok: true }
  | { readonly ok: false; readonly database: 'unreachable' | 'unwritable' | 'gone'; readonly message: string };

// How often the store looks whether its file is still at its path, and, while
// writes fail, retries one small write. One stat a second costs nothing; the
// retry runs only while unwritable, so a healthy store never pays for it.
const WATCH_MS = 1_000;
// A `/readyz` flood while unwritable costs at most one write a second.
const PROBE_MIN_INTERVAL_MS = 1_000;

/** The database could not be opened or migrated at start; says which one and why, without secrets. */
export class StoreOpenError extends Error {
  constructor(database: string, cause: unknown) {
    const detail = cause instanceof DatabaseUnavailableError ? cause.detail : cause instanceof Error ? cause.message : String(cause);
    super(`cannot open the database ${database}: ${detail}`, { cause });
    this.name = 'StoreOpenError';
  }
}

/** The database and its repositories, one per concern. */
export class Store {
  readonly users: UserRepository;
  readonly codes: CodeRepository;
  readonly settings: SettingsRepository;
  readonly audit: AuditRepository;
  readonly authEvents: AuthEventRepository;
  readonly retention: RetentionRepository;
  readonly #opened: ReturnType<typeof openDatabase>;
  #watch: NodeJS.Timeout | undefined;
  #probing: Promise<void> | undefined;
  #lastProbeMs = 0;

  private constructor(opened: ReturnType<typeof openDatabase>) {
    this.#opened = opened;
    const { db } = opened;
    this.users = new UserRepository(db);
    this.codes = new CodeRepository(
      db,
      (trx) => opened.serialize(trx, 'publish'),
      opened.dialect === 'postgres' ? { publishLock: SERIAL_LOCK_KEYS.publish } : undefined,
    );
    this.settings = new SettingsRepository(db);
    this.audit = new AuditRepository(db);
    this.authEvents = new AuthEventRepository(db);
    this.retention = new RetentionRepository(db, opened.dialect === 'postgres', (trx) => opened.serialize(trx, 'prune'));
  }

  /** Opens the database, applies pending migrations and starts watching its health. */
  static async open(target: DatabaseTarget, events: StoreEvents = {}): Promise<Store> {
    const opened = openDatabase(target, (ms) => events.queried?.(ms), {
      writesFailed: (error: DatabaseUnavailableError) => events.writesFailed?.(error.detail),
      writesResumed: () => events.writesResumed?.(),
      fileGone: (detail) => events.fileGone?.(detail),
      fileBack: () => events.fileBack?.(),
      waitingForLock: () => events.waitingForLock?.(),
    });
    const store = new Store(opened);
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw new StoreOpenError(describeDatabase(target), error);
    }
    store.#watch = setInterval(() => void store.#check().catch(() => undefined), WATCH_MS);
    store.#watch.unref();
    return store;
  }

  /**
   * Runs `work` in one transaction over the repositories a change of access
   * touches, so the change, its auth event and its audit entry land together.
   */
  transaction<T>(work: (tx: AccessRepositories) => Promise<T>): Promise<T> {
    return this.#opened.db.transaction().execute(async (trx) => {
      // Auth events are read back by id ("after the last one applied"): they
      // must commit in the order of their ids.
      await this.#opened.serialize(trx, 'access');
      return work({ users: new UserRepository(trx), authEvents: new AuthEventRepository(trx), audit: new AuditRepository(trx) });
    });
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.#opened);
  }

  /**
   * Runs `work` while no other codecast process sharing this database runs
   * work under it (the first admin's creation): on PostgreSQL an advisory
   * lock, on SQLite, which one server owns, within the process.
   */
  exclusively<T>(work: () => Promise<T>): Promise<T> {
    return this.#opened.exclusively(work);
  }

  /** Which database this is: `sqlite` or `postgres`. */
  get dialect(): 'sqlite' | 'postgres' {
    return this.#opened.dialect;
  }

  ping(): Promise<void> {
    return ping(this.#opened.db);
  }

  /**
   * Whether the database can serve reads and take writes now. Looks at the
   * file's identity; while writes have been failing, retries one small write
   * (at most once a second), so this answers the truth without costing a
   * healthy store a write.
   */
  async health(): Promise<StoreHealth> {
    await this.#check();
    const writes = this.#opened.writeHealth();
    if (!writes.writable) {
      return {
        ok: false,
        database: writes.reason === 'file_gone' ? 'gone' : writes.reason === 'unreachable' ? 'unreachable' : 'unwritable',
        message: unavailableMessage(writes.reason),
      };
    }
    try {
      await this.ping();
    } catch {
      return { ok: false, database: 'unreachable', message: 'The database cannot be reached; retry later.' };
    }
    return { ok: true };
  }

  /** Looks whether the file is still the one open; retries a write while writes fail. */
  async #check(): Promise<void> {
    const opened = this.#opened;
    if (opened.identity) {
      const change = await opened.identity.change();
      if (change === undefined) opened.fileBack();
      else opened.fileGone(change);
    }
    const writes = opened.writeHealth();
    if (!writes.writable && writes.reason !== 'file_gone') await this.#probe();
  }

  #probe(): Promise<void> {
    if (this.#probing) return this.#probing;
    if (Date.now() - this.#lastProbeMs < PROBE_MIN_INTERVAL_MS) return Promise.resolve();
    this.#lastProbeMs = Date.now();
    // The guard hears the outcome; a failure here only means "still unwritable".
    this.#probing = probeWrite(this.#opened.db, this.#lastProbeMs)
      .catch(() => undefined)
      .finally(() => {
        this.#probing = undefined;
      });
    return this.#probing;
  }

  /** Queries run since open. */
  get queryCount(): number {
    return this.#opened.queryCount();
  }

  async close(): Promise<void> {
    clearInterval(this.#watch);
    this.#watch = undefined;
    await this.#probing;
    await this.#opened.close();
  }
}
