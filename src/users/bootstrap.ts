import type { FirstAdminStore } from './ports.js';
import type { UserAdmin } from './user-admin.js';

export interface BootstrapResult {
  readonly username: string;
  /** The new admin's token when codecast made one up; undefined when it came from the environment. */
  readonly generatedToken: string | undefined;
}

/**
 * When no admin exists, creates one named `admin` (or `admin-2`… if that
 * name is taken by a user) with the given token or a new one. Under the
 * store's exclusive lock: two processes starting at once on one database
 * make one admin, not two.
 */
export function ensureFirstAdmin(
  store: FirstAdminStore,
  users: UserAdmin,
  token: string | undefined,
): Promise<BootstrapResult | undefined> {
  return store.exclusively(() => createFirstAdmin(store, users, token));
}

async function createFirstAdmin(store: FirstAdminStore, users: UserAdmin, token: string | undefined): Promise<BootstrapResult | undefined> {
  if ((await store.users.countAdmins()) > 0) return undefined;
  for (let n = 1; ; n++) {
    const username = n === 1 ? 'admin' : `admin-${n}`;
    if (await store.users.byName(username)) continue;
    const created = await users.create(username, 'admin', null, token);
    return { username, generatedToken: token === undefined ? created.token.token : undefined };
  }
}
