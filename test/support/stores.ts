/**
 * The stores every store-dependent suite runs over, the way kysely loops its
 * tests over its dialects: `for (const store of STORE_KINDS) describe(…)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type DatabaseTarget } from '../../src/config/index.js';
import { createTestDatabase } from './postgres.js';

export type StoreKind = 'sqlite' | 'postgres';

export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/**
 * An empty database of a test's own and the `DATABASE_URL` that reaches it:
 * a file in a temporary directory, or a fresh database on the test
 * PostgreSQL server. `drop()` removes it; twice is harmless.
 */
export type StoreDatabase =
  | { readonly store: 'sqlite'; readonly url: string; readonly path: string; drop(): Promise<void> }
  | { readonly store: 'postgres'; readonly url: string; readonly name: string; drop(): Promise<void> };

export async function createStoreDatabase(store: StoreKind, label: string): Promise<StoreDatabase> {
  if (store === 'postgres') {
    const database = await createTestDatabase(label);
    return { store, url: database.url, name: database.name, drop: () => database.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), `codecast-${label.replace(/[^a-z0-9-]+/gi, '-')}-`));
  const path = join(dir, 'codecast.db');
  return {
    store,
    url: `sqlite:${path}`,
    path,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The target `Store.open` takes for this database, parsed the way the server parses `DATABASE_URL`. */
export function databaseTarget(database: StoreDatabase): DatabaseTarget {
  return loadConfig({ DATABASE_URL: database.url }).database;
}
