import { configOrExit } from '../config-or-exit.js';
import { BackupRefusedError, backupSqlite } from '../../store/index.js';

/**
 * `codecast backup FILE`: a consistent copy of the live SQLite database, made
 * while the server runs. PostgreSQL has its own tools, which the message
 * names; its URL is not echoed (it may hold a password).
 */
export async function backup(file: string, options: { force?: boolean }): Promise<void> {
  const config = configOrExit();
  if (config.database.driver !== 'sqlite') {
    process.stderr.write(
      'codecast: backup copies an SQLite database, and DATABASE_URL names PostgreSQL. Back it up with its own tools:\n' +
        '  pg_dump --format=custom --file=codecast.dump "$DATABASE_URL"\n' +
        'and restore into an empty database with pg_restore (README: "Backup and restore").\n',
    );
    process.exitCode = 2;
    return;
  }
  try {
    const result = await backupSqlite(config.database.path, file, { force: options.force === true });
    process.stdout.write(`backed up ${config.database.path} to ${file} (${result.bytes} bytes)\n`);
  } catch (error) {
    if (!(error instanceof BackupRefusedError)) throw error;
    process.stderr.write(`codecast: ${error.message}\n`);
    process.exitCode = 1;
  }
}
