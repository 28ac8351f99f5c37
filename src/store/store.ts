import type { DatabaseTarget } from '../config/index.js';
import { AuditRepository } from './audit-repository.js';
import { AuthEventRepository } from './auth-event-repository.js';
import { CodeRepository } from './code-repository.js';
import { migrateToLatest, openDatabase, ping } from './database.js';
import { SettingsRepository } from './settings-repository.js';
import { UserRepository } from './user-repository.js';

export interface AccessRepositories {
  readonly users: UserRepository;
  readonly authEvents: AuthEventRepository;
  readonly audit: AuditRepository;
}

/** The database and its repositories, one per concern. */
export class Store {
  readonly users: UserRepository;
  readonly codes: CodeRepository;
  readonly settings: SettingsRepository;
  readonly audit: AuditRepository;
  readonly authEvents: AuthEventRepository;
  readonly #opened: ReturnType<typeof openDatabase>;

  private constructor(opened: ReturnType<typeof openDatabase>) {
    this.#opened = opened;
    const { db } = opened;
    this.users = new UserRepository(db);
    this.codes = new CodeRepository(db);
    this.settings = new SettingsRepository(db);
    this.audit = new AuditRepository(db);
    this.authEvents = new AuthEventRepository(db);
  }

  /** Opens the database and applies pending migrations. */
  static async open(target: DatabaseTarget, onQuery?: (ms: number) => void): Promise<Store> {
    const store = new Store(openDatabase(target, onQuery));
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /**
   * Runs `work` in one transaction over the repositories a change of access
   * touches, so the change, its auth event and its audit entry land together.
   */
  transaction<T>(work: (tx: AccessRepositories) => Promise<T>): Promise<T> {
    return this.#opened.db.transaction().execute((trx) =>
      work({ users: new UserRepository(trx), authEvents: new AuthEventRepository(trx), audit: new AuditRepository(trx) }),
    );
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.#opened.db);
  }

  ping(): Promise<void> {
    return ping(this.#opened.db);
  }

  /** Queries run since open. */
  get queryCount(): number {
    return this.#opened.queryCount();
  }

  async close(): Promise<void> {
    await this.#opened.db.destroy();
  }
}
