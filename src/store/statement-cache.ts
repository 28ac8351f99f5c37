import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import { LRUCache } from 'lru-cache';

/**
 * better-sqlite3 as Kysely's SQLite dialect wants it, but preparing each
 * distinct SQL text once. Kysely's SQLite driver calls `prepare` for every
 * query it runs, and compiling the statement was the largest single cost of
 * a publish (about a third of its database time in the sustained benchmark
 * profile). Kysely emits the same text for the same query shape, with the
 * values as parameters, so a small LRU keyed by text holds every hot one.
 * Reusing a statement is safe here because better-sqlite3 runs it to the
 * end synchronously; the one exception, `iterate` (Kysely's `stream()`), is
 * not used by codecast.
 */
export function cachingStatements(sqlite: SqliteDatabase, max = 256): KyselySqliteDatabase {
  const statements = new LRUCache<string, Statement>({ max });
  return {
    close: () => sqlite.close(),
    prepare(sql: string): Statement {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
