import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';
import pg from 'pg';
import type { OpenedDatabase, SerialLock } from './database.js';
import type { Database } from './schema.js';
import { DatabaseUnavailableError, asStoreError } from './unavailable.js';
import type { WriteHealth, WriteHealthListener } from './write-guard.js';

export interface PostgresTarget {
  readonly url: string;
  readonly poolMax: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

// Any number will do as long as every codecast process uses the same one.
const EXCLUSIVE_LOCK_KEY = 0x636f6463; // "codc"
// The client gives up this long after the server should have cancelled the
// statement: what is left is a server that no longer answers at all.
const CLIENT_GRACE_MS = 5_000;

const INT8_OID = 20;

/**
 * PostgreSQL's 64-bit integers (ids, counts, *_ms times) as numbers. `pg`
 * hands them over as strings because they may exceed 2^53; codecast's never
 * will (ids count codes and users, times are milliseconds since 1970), so
 * they are read as numbers, and one that is not exactly representable is an
 * error rather than a silently wrong id.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`a 64-bit integer beyond 2^53 cannot be read exactly: ${text}`);
  return value;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function poolConfig(target: PostgresTarget): pg.PoolConfig {
  return {
    connectionString: target.url,
    max: target.poolMax,
    connectionTimeoutMillis: target.connectTimeoutMs,
    statement_timeout: target.statementTimeoutMs,
    query_timeout: target.statementTimeoutMs + CLIENT_GRACE_MS,
    // A transaction left open by a client that vanished holds its locks until this.
    idle_in_transaction_session_timeout: target.statementTimeoutMs + CLIENT_GRACE_MS,
    application_name: 'codecast',
    keepAlive: true,
    types,
  };
}

/**
 * Whether writes work, from the outcome of every statement: an unavailable
 * error marks them failing; a stored write (a commit, or a write outside a
 * transaction) marks them working again, and so does any answer at all after
 * the server was unreachable.
 */
class WriteWatch {
  #failure: { reason: DatabaseUnavailableError['reason']; detail: string; sinceMs: number } | undefined;

  constructor(private readonly listener: WriteHealthListener) {}

  get health(): WriteHealth {
    return this.#failure ? { writable: false, ...this.#failure } : { writable: true };
  }

  failed(error: unknown): unknown {
    const mapped = asStoreError(error);
    if (mapped instanceof DatabaseUnavailableError && mapped.reason !== 'busy' && mapped.reason !== 'closed') {
      const first = this.#failure === undefined;
      this.#failure = { reason: mapped.reason, detail: mapped.detail, sinceMs: this.#failure?.sinceMs ?? Date.now() };
      if (first) this.listener.writesFailed(mapped);
    }
    return mapped;
  }

  answered(stored: boolean): void {
    if (this.#failure === undefined) return;
    if (!stored && this.#failure.reason !== 'unreachable') return;
    this.#failure = undefined;
    this.listener.writesResumed();
  }
}

const WRITE = /^\s*(insert|update|delete)\b/i;

/** A pooled connection whose every statement reports to the watch, with errors the store's own. */
class WatchedClient {
  #inTransaction = false;
  #broken = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly watch: WriteWatch,
    private readonly dropped: WeakSet<pg.PoolClient>,
  ) {}

  async query<R>(text: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    const verb = text.trimStart().slice(0, 8).toLowerCase();
    let result: pg.QueryResult;
    try {
      result = await this.client.query(text, parameters as unknown[]);
    } catch (error) {
      const mapped = this.watch.failed(error);
      if (mapped instanceof DatabaseUnavailableError && mapped.reason === 'unreachable') this.#broken = true;
      throw mapped;
    }
    if (verb.startsWith('begin')) this.#inTransaction = true;
    else if (verb.startsWith('commit') || verb.startsWith('rollback')) this.#inTransaction = false;
    this.watch.answered(verb.startsWith('commit') || (!this.#inTransaction && WRITE.test(text)));
    return result as unknown as PostgresQueryResult<R>;
  }

  release(): void {
    // A connection that failed, or that the server dropped, is not handed out again.
    this.client.release(this.#broken || this.dropped.has(this.client) ? true : undefined);
  }
}

// Lock keys: any numbers will do as long as every codecast process uses the same ones.
export const SERIAL_LOCK_KEYS: Record<SerialLock, number> = { publish: 0x636f6470, access: 0x636f6461, prune: 0x636f6472 }; // "codp", "coda", "codr"

// Once opening a connection failed because the server is away, one attempt a
// second goes through and every other request fails at once: a request
// waiting out a connect timeout behind one that just failed helps nobody. A
// pooled connection the server dropped does not count: new ones may work.
const RETRY_UNREACHABLE_MS = 1_000;

// How often, and how long, a process starting waits for another to finish
// migrating or creating the first admin, saying so in the log.
const LOCK_POLL_MS = 500;
const LOCK_WAIT_MS = 120_000;

/** PostgreSQL over a `pg` pool, through Kysely's dialect. */
export function openPostgres(target: PostgresTarget, onQuery: (ms: number) => void, listener: WriteHealthListener): OpenedDatabase {
  const pool = new pg.Pool(poolConfig(target));
  const watch = new WriteWatch(listener);
  const dropped = new WeakSet<pg.PoolClient>();
  // A connection the server drops (a restart, a terminated session) emits
  // 'error' on its client. pg-pool listens only while the client is idle;
  // unheard while a query or a transaction holds it, Node would end the
  // process. So every client is heard for its whole life, and one that
  // errored is destroyed when it is given back.
  pool.on('connect', (client) => {
    client.on('error', (error) => {
      dropped.add(client);
      watch.failed(error);
    });
  });
  pool.on('error', (error) => watch.failed(error));
  // Why opening a connection last failed because the server is away, and when;
  // undefined once one opens again.
  let connectFailing: string | undefined;
  let connectFailedAtMs = 0;
  const watched: PostgresPool = {
    async connect(): Promise<PostgresPoolClient> {
      if (connectFailing) {
        // One attempt per window goes through; it opens the next window.
        if (Date.now() - connectFailedAtMs < RETRY_UNREACHABLE_MS) throw new DatabaseUnavailableError('unreachable', connectFailing);
        connectFailedAtMs = Date.now();
      }
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        const mapped = watch.failed(error);
        if (mapped instanceof DatabaseUnavailableError && mapped.reason === 'unreachable') {
          connectFailing = mapped.detail;
          connectFailedAtMs = Date.now();
        }
        throw mapped;
      }
      connectFailing = undefined;
      return new WatchedClient(client, watch, dropped) as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
  let queries = 0;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: watched }),
    log: (event) => {
      queries++;
      onQuery(event.queryDurationMillis);
    },
  });
  return {
    dialect: 'postgres',
    db,
    identity: undefined,
    writeHealth: () => watch.health,
    fileBack: () => undefined,
    fileGone: () => undefined,
    async exclusively<T>(work: () => Promise<T>): Promise<T> {
      // A connection outside the pool: work may need every pooled one.
      const client = new pg.Client(poolConfig(target));
      client.on('error', () => undefined); // the lock ends with the session; the query that follows reports
      try {
        await client.connect();
        await takeLock(client, listener);
      } catch (error) {
        await client.end().catch(() => undefined);
        throw watch.failed(error);
      }
      try {
        return await work();
      } finally {
        await client.query('select pg_advisory_unlock($1)', [EXCLUSIVE_LOCK_KEY]).catch(() => undefined);
        await client.end().catch(() => undefined);
      }
    },
    async serialize(trx: Kysely<Database>, lock: SerialLock): Promise<void> {
      await sql`select pg_advisory_xact_lock(${SERIAL_LOCK_KEYS[lock]})`.execute(trx);
    },
    queryCount: () => queries,
    close: () => db.destroy(),
  };
}

/**
 * Takes the start-up lock, waiting while another process holds it (it is
 * migrating or creating the first admin) and saying so once; gives up after
 * LOCK_WAIT_MS, since a holder that is frozen, or whose host vanished, keeps
 * it until the server notices the dead connection, which can take hours.
 */
async function takeLock(client: pg.Client, listener: WriteHealthListener): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    const { rows } = await client.query<{ taken: boolean }>('select pg_try_advisory_lock($1) as taken', [EXCLUSIVE_LOCK_KEY]);
    if (rows[0]?.taken) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `another codecast process has held the start-up lock (migrations, first admin) for ${LOCK_WAIT_MS / 1000} s; ` +
          'if it is stuck, stop it (or end its session in PostgreSQL) and start again',
      );
    }
    if (!told) {
      told = true;
      listener.waitingForLock?.();
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}
