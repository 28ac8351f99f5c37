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
    '0006_publish_in_one_statement': {
      /**
       * PostgreSQL: a publish's transaction as one function, so it costs one
       * round trip and holds the publish lock only while the server runs it,
       * not across six round trips of a busy client (see
       * CodeRepository.insert). SQLite's statements are calls, not round
       * trips: it keeps its transaction in TypeScript.
       */
      async up(db: Kysely<any>) {
        if (dialect === 'postgres') await sql.raw(PUBLISH_FUNCTION).execute(db);
      },
    },
  };
};

/**
 * Takes the publish lock; answers an earlier publish under the same
 * Idempotency-Key (`earlier`, its code id and request hash) or a live code
 * with the same dedup key inside the window (`duplicate`, its id); else
 * stores the code, its Idempotency-Key and its audit entry (whose target is
 * the new id) and answers `inserted` with the id. The same steps, in the
 * same order, as CodeRepository's transaction on SQLite.
 */
const PUBLISH_FUNCTION = `
create or replace function codecast_publish(
  p_lock bigint,
  p_code text, p_dedup_key text, p_value double precision, p_type text, p_message text, p_source text,
  p_published_at text, p_published_at_ms bigint, p_expires_at text, p_published_by bigint,
  p_delivered_sse integer, p_delivered_ws integer, p_delivered_socketio integer,
  p_dedup_since_ms bigint,
  p_idem_user bigint, p_idem_key text, p_idem_hash text,
  p_audit_at text, p_audit_actor text, p_audit_action text, p_audit_details text
) returns table (o_outcome text, o_id bigint, o_request_hash text)
language plpgsql as $fn$
declare
  v_id bigint;
  v_hash text;
begin
  perform pg_advisory_xact_lock(p_lock);
  if p_idem_key is not null then
    select k.code_id, k.request_hash into v_id, v_hash
      from idempotency_keys k where k.user_id = p_idem_user and k.key = p_idem_key;
    if found then
      return query select 'earlier'::text, v_id, v_hash;
      return;
    end if;
  end if;
  if p_dedup_since_ms is not null then
    select c.id into v_id from codes c
      where c.dedup_key = p_dedup_key and c.published_at_ms >= p_dedup_since_ms and c.revoked_at is null
      order by c.id desc limit 1;
    if found then
      return query select 'duplicate'::text, v_id, null::text;
      return;
    end if;
  end if;
  insert into codes (code, dedup_key, value, type, message, source, published_at, published_at_ms, expires_at,
                     revoked_at, published_by, delivered_sse, delivered_ws, delivered_socketio)
    values (p_code, p_dedup_key, p_value, p_type, p_message, p_source, p_published_at, p_published_at_ms, p_expires_at,
            null, p_published_by, p_delivered_sse, p_delivered_ws, p_delivered_socketio)
    returning codes.id into v_id;
  if p_idem_key is not null then
    insert into idempotency_keys (user_id, key, request_hash, code_id, created_at_ms)
      values (p_idem_user, p_idem_key, p_idem_hash, v_id, p_published_at_ms);
  end if;
  if p_audit_action is not null then
    insert into audit_log (at, actor, action, target, details)
      values (p_audit_at, p_audit_actor, p_audit_action, v_id::text, p_audit_details);
  end if;
  return query select 'inserted'::text, v_id, null::text;
end
$fn$;
`;

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
