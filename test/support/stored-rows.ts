/**
 * What a store holds, read straight from its database and not through
 * codecast: for tests that look at what is stored (no token in clear, the
 * tables the migrations made), on SQLite and PostgreSQL alike.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { StoreKind } from './stores.js';

export type StoredRows = Map<string, Record<string, unknown>[]>;

/** Every row of every table, by table name (empty tables included). */
export async function storedRows(store: StoreKind, databaseUrl: string): Promise<StoredRows> {
  const tables: StoredRows = new Map();
  if (store === 'sqlite') {
    const db = new Database(databaseUrl.replace(/^sqlite:(\/\/)?/, ''), { readonly: true, fileMustExist: true });
    try {
      const names = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
      for (const { name } of names)
        tables.set(name, db.prepare(`select * from "${name.replaceAll('"', '""')}"`).all() as Record<string, unknown>[]);
    } finally {
      db.close();
    }
    return tables;
  }
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const names = await client.query<{ name: string }>(
      "select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'",
    );
    for (const { name } of names.rows) tables.set(name, (await client.query(`select * from "${name.replaceAll('"', '""')}"`)).rows);
  } finally {
    await client.end();
  }
  return tables;
}
