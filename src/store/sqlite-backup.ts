import { existsSync, linkSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { SQLITE_BUSY_TIMEOUT_MS } from './sqlite-database.js';

export interface BackupResult {
  readonly pages: number;
  readonly bytes: number;
}

/** A backup that cannot be made as asked; the message says why and what to do. */
export class BackupRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupRefusedError';
  }
}

// The whole database in one step. SQLite restarts a backup made in steps
// whenever another connection writes between two of them, so under a steady
// publish load a stepped backup might never finish. One step reads one
// snapshot; in WAL mode a reader blocks no writer, so the server publishes
// on while it runs.
const ALL_PAGES = 0x7fffffff;

/**
 * Copies the SQLite database at `source` to `target` with SQLite's online
 * backup: a consistent snapshot of the live database, WAL included, while
 * the server keeps writing (a file copy of a WAL database can miss commits
 * or tear pages). The copy is written beside `target` and moved into place
 * only once complete and checked, so `target` is never half a database.
 * @throws BackupRefusedError when `source` is missing, `target` exists
 *   (unless `force`), or both are the same file.
 */
export async function backupSqlite(source: string, target: string, options: { force?: boolean } = {}): Promise<BackupResult> {
  if (!existsSync(source)) throw new BackupRefusedError(`there is no SQLite database at ${source} (DATABASE_URL): nothing to back up`);
  const destination = resolve(target);
  if (existsSync(destination)) {
    if (realpathSync(destination) === realpathSync(source)) {
      throw new BackupRefusedError(`${target} is the database itself; name another file`);
    }
    if (!options.force) throw new BackupRefusedError(`${target} exists; pass --force to overwrite it`);
  }
  if (!existsSync(dirname(destination))) throw new BackupRefusedError(`the folder of ${target} does not exist`);
  const partial = join(dirname(destination), `.${basename(destination)}.partial-${process.pid}`);
  removeDatabaseFiles(partial);
  const db = new SqliteDatabase(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    const { totalPages } = await db.backup(partial, { progress: () => ALL_PAGES });
    check(partial);
    if (options.force) {
      renameSync(partial, destination);
    } else {
      // A link fails if the name was taken meanwhile, where a rename would overwrite it.
      try {
        linkSync(partial, destination);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new BackupRefusedError(`${target} exists; pass --force to overwrite it`);
        throw error;
      }
    }
    return { pages: totalPages, bytes: statSync(destination).size };
  } finally {
    db.close();
    removeDatabaseFiles(partial);
  }
}

/** Opens the copy as the server would and asks SQLite whether it is sound. */
function check(path: string): void {
  const copy = new SqliteDatabase(path, { fileMustExist: true });
  try {
    const result = copy.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw new Error(`the copy failed SQLite's check: ${String(result)}`);
  } finally {
    copy.close();
  }
}

function removeDatabaseFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}
