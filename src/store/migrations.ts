import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/**
 * The column types that differ between the two databases; everything else
 * is written once. PostgreSQL's ids are 64-bit identities (the pool reads
 * them back as numbers, see postgres-database.ts), SQLite's are its 64-bit
 * rowid. PostgreSQL's `real` is 32-bit, so a code's value is `double
 * precision` there, as SQLite's `real` already is; and its `integer` is
 * 32-bit, so a latency in milliseconds (an ack of a month-old code) is a
 * `bigint`.
 */
interface ColumnTypes {
  readonly id: 'integer' | 'bigint';
  /** Builds an id column: the primary key, numbered by the database. */
  readonly identity: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
  /** A column that holds another table's id. */
  readonly reference: 'integer' | 'bigint';
  readonly float: 'real' | 'double precision';
  readonly milliseconds: 'integer' | 'bigint';
}

const COLUMN_TYPES: Record<Dialect, ColumnTypes> = {
  sqlite: { id: 'integer', identity: (c) => c.primaryKey().autoIncrement(), reference: 'integer', float: 'real', milliseconds: 'integer' },
  postgres: {
    id: 'bigint',
    identity: (c) => c.primaryKey().generatedByDefaultAsIdentity(),
    reference: 'bigint',
    float: 'double precision',
    milliseconds: 'bigint',
  },
};

// Migrations live in code rather than files so the compiled package carries
// them without a loader and they cannot go missing from a deployment. The
// same migrations, under the same names, make the same schema on both
// databases; where a step must differ, it asks the dialect.
const migrations = (dialect: Dialect): Record<string, Migration> => {
  const t = COLUMN_TYPES[dialect];
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', t.id, t.identity)
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('tokens')
          .addColumn('id', t.id, t.identity)
          .addColumn('user_id', t.reference, (c) => c.notNull().references('users.id'))
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('label', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
        await db.schema
          .createTable('codes')
          .addColumn('id', t.id, t.identity)
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('dedup_key', 'text', (c) => c.notNull())
          .addColumn('value', t.float)
          .addColumn('type', 'text')
          .addColumn('message', 'text')
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('published_at', 'text', (c) => c.notNull())
          .addColumn('published_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('revoked_at', 'text')
          .addColumn('published_by', t.reference, (c) => c.references('users.id'))
          .addColumn('delivered_sse', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('delivered_ws', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('delivered_socketio', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('replayed', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createIndex('codes_dedup').on('codes').columns(['dedup_key', 'published_at_ms']).execute();
        await db.schema
          .createTable('acks')
          .addColumn('code_id', t.reference, (c) => c.notNull().references('codes.id'))
          .addColumn('user_id', t.reference, (c) => c.notNull().references('users.id'))
          .addColumn('acked_at', 'text', (c) => c.notNull())
          .addColumn('latency_ms', t.milliseconds, (c) => c.notNull())
          .addPrimaryKeyConstraint('acks_pk', ['code_id', 'user_id'])
          .execute();
        await db.schema
          .createTable('idempotency_keys')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('request_hash', 'text', (c) => c.notNull())
          .addColumn('code_id', t.reference, (c) => c.notNull().references('codes.id'))
          .addColumn('user_id', t.reference, (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('idempotency_created').on('idempotency_keys').column('created_at_ms').execute();
        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('id', t.id, t.identity)
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('details', 'text')
          .execute();
        await db.schema
          .createTable('auth_events')
          .addColumn('id', t.id, t.identity)
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('user_id', t.reference, (c) => c.notNull())
          .addColumn('token_id', t.reference)
          .execute();
      },
    },
    // One row the store rewrites to learn whether the database takes writes
    // again after a write failed (disk full, read-only, I/O error).
    '0002_write_probe': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('write_probe')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0003_usernames_unique_regardless_of_case': {
      /**
       * `Alice` and `alice` are one user name. An existing database that already
       * holds two names differing only by case cannot take the index; rather
       * than guess which user to rename (each has its tokens and audit trail),
       * the migration stops the start with a message naming them, and the
       * operator renames or deletes all but one (see DuplicateUsernamesError).
       * Nothing is changed until then: the check comes before the index.
       */
      async up(db: Kysely<any>) {
        const names = dialect === 'postgres' ? sql`string_agg(username, ', ')` : sql`group_concat(username, ', ')`;
        const clashes = await sql<{ names: string }>`
          select ${names} as names from users
          group by lower(username) having count(*) > 1`.execute(db);
        if (clashes.rows.length > 0) throw new DuplicateUsernamesError(clashes.rows.map((row) => row.names));
        await sql`create unique index users_username_nocase on users (lower(username))`.execute(db);
      },
    },
    '0004_idempotency_keys_per_user': {
      /**
       * An Idempotency-Key belongs to the admin who sent it: another admin
       * reusing the same key gets its own publish. SQLite cannot change a
       * primary key in place, so the table is rebuilt with (user_id, key).
       */
      async up(db: Kysely<any>) {
        // PostgreSQL's migrations each run in a transaction of Kysely's.
        if (dialect === 'postgres') return rebuildIdempotencyKeys(db, t);
        // Kysely runs SQLite migrations outside a transaction (its SQLite
        // adapter has no transactional DDL flag), so this rebuild opens its
        // own: a failure half-way (a full disk) must not leave a table behind
        // that stops every later start.
        await sql`begin`.execute(db);
        try {
          await rebuildIdempotencyKeys(db, t);
          await sql`commit`.execute(db);
        } catch (error) {
          await sql`rollback`.execute(db).catch(() => undefined);
          throw error;
        }
      },
    },
    '0005_idempotency_keys_by_code': {
      /**
       * Retention deletes a code's idempotency keys with it, and deleting a
       * code makes the database look for keys that still point at it (the
       * foreign key): without an index each deleted code scans the table.
       */
      async up(db: Kysely<any>) {
        await db.schema.createIndex('idempotency_code').on('idempotency_keys').column('code_id').execute();
      },
    },
  };
};

/** The idempotency table again, keyed by (user_id, key), with every row it held. */
async function rebuildIdempotencyKeys(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('idempotency_keys_v3')
    .addColumn('user_id', t.reference, (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('code_id', t.reference, (c) => c.notNull().references('codes.id'))
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'key'])
    .execute();
  await sql`insert into idempotency_keys_v3 (user_id, key, request_hash, code_id, created_at_ms)
    select user_id, key, request_hash, code_id, created_at_ms from idempotency_keys`.execute(db);
  await db.schema.dropTable('idempotency_keys').execute();
  await db.schema.alterTable('idempotency_keys_v3').renameTo('idempotency_keys').execute();
  await db.schema.createIndex('idempotency_created').on('idempotency_keys').column('created_at_ms').execute();
}

/**
 * The database holds user names that differ only by case, which this
 * version treats as one name. Raised by migration 0003; the start stops
 * with this message instead of an SQLite constraint error.
 */
export class DuplicateUsernamesError extends Error {
  constructor(readonly groups: readonly string[]) {
    super(
      `the database holds user names that differ only by case (${groups.map((g) => `[${g}]`).join(', ')}); ` +
        'names are now unique regardless of case. Keep one name of each group and rename the others ' +
        "(for example: sqlite3 codecast.db \"update users set username = 'alice-2' where username = 'Alice'\"), " +
        'then start again. Nothing was changed.',
    );
    this.name = 'DuplicateUsernamesError';
  }
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
