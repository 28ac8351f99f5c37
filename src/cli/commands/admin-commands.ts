import { existsSync } from 'node:fs';
import { describeDatabase } from '../../config/index.js';
import { configOrExit } from '../config-or-exit.js';
import { Store } from '../../store/index.js';
import { UserAdmin } from '../../users/index.js';
import { CodecastError } from '../../domain/index.js';

/**
 * Runs a command against the database named by DATABASE_URL. A running
 * server sees user and token changes within CODECAST_AUTH_POLL_MS.
 */
async function withUsers<T>(task: (users: UserAdmin, store: Store) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const config = configOrExit();
  const { database } = config;
  // Which database, always: a command run from elsewhere, or with another
  // DATABASE_URL than the server's, shows it here (on standard error, so the
  // output stays what scripts read).
  process.stderr.write(`database: ${describeDatabase(database)}\n`);
  if (options.readOnly && database.driver === 'sqlite' && database.path !== ':memory:' && !existsSync(database.path)) {
    // Opening would create an empty one, and answer as if it were the server's.
    process.stderr.write(
      `codecast: there is no database at ${database.path}; the server creates it on its first start ` +
        '(check DATABASE_URL: a relative path is taken from the codecast directory)\n',
    );
    process.exitCode = 1;
    return undefined as T;
  }
  const store = await Store.open(config.database);
  try {
    return await task(new UserAdmin(store, undefined, undefined), store);
  } catch (error) {
    if (error instanceof CodecastError) {
      process.stderr.write(`codecast: ${error.message}\n`);
      process.exitCode = 1;
      return undefined as T;
    }
    throw error;
  } finally {
    await store.close();
  }
}

export async function migrate(): Promise<void> {
  const config = configOrExit();
  const store = await Store.open(config.database); // opening applies pending migrations
  await store.close();
  process.stdout.write('database is up to date\n');
}

export function userAdd(name: string, options: { admin?: boolean }): Promise<void> {
  return withUsers(async (users) => {
    const { user, token } = await users.create(name, options.admin ? 'admin' : 'user', null);
    process.stdout.write(`created ${user.role} "${user.username}" (id ${user.id}); its token, shown once:\n${token.token}\n`);
  });
}

export function userList(): Promise<void> {
  return withUsers(
    async (users) => {
      const rows = await users.list();
      const width = Math.max(8, ...rows.map((u) => u.username.length));
      process.stdout.write(`${'ID'.padEnd(6)}${'USERNAME'.padEnd(width + 2)}${'ROLE'.padEnd(7)}STATUS    CREATED\n`);
      for (const u of rows) {
        process.stdout.write(
          `${String(u.id).padEnd(6)}${u.username.padEnd(width + 2)}${u.role.padEnd(7)}${(u.disabled ? 'disabled' : 'active').padEnd(10)}${u.createdAt}\n`,
        );
      }
    },
    { readOnly: true },
  );
}

export function userSetDisabled(name: string, disabled: boolean): Promise<void> {
  return withUsers(async (users) => {
    const user = await users.update(name, { disabled }, null);
    process.stdout.write(`user "${user.username}" is ${user.disabled ? 'disabled' : 'enabled'}\n`);
  });
}

export function tokenCreate(name: string, options: { label?: string }): Promise<void> {
  return withUsers(async (users) => {
    const token = await users.createToken(name, options.label ?? null, null);
    process.stdout.write(`created token ${token.id} for "${name}"; shown once:\n${token.token}\n`);
  });
}

export function tokenRevoke(id: string): Promise<void> {
  return withUsers(async (users) => {
    if (!/^\d+$/.test(id)) throw new CodecastError('invalid_request', `"${id}" is not a token id (a whole number).`);
    await users.revokeToken(Number(id), null);
    process.stdout.write(`token ${id} is revoked\n`);
  });
}
