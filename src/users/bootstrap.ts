import type { FirstAdminStore } from './ports.js';
import type { UserAdmin } from './user-admin.js';

export interface BootstrapResult {
  readonly username: string;
  /**
   * How the admin can sign in: `generated`, with the token codecast made up
   * (to be shown once); `environment`, with the one in CODECAST_ADMIN_TOKEN;
   * `none` yet, when no terminal could be shown a token
   * (`codecast token create NAME` gives it one).
   */
  readonly token: { readonly kind: 'generated'; readonly value: string } | { readonly kind: 'environment' } | { readonly kind: 'none' };
}

/**
 * What the first admin's token is: the one from the environment, one made
 * up and shown to the operator, or none yet (no terminal to show it on,
 * and a token written to a log stream is a token leaked).
 */
export type FirstAdminToken =
  | { readonly from: 'environment'; readonly token: string }
  | { readonly from: 'generated' }
  | { readonly from: 'none' };

/**
 * When no admin exists, creates one named `admin` (or `admin-2`… if that
 * name is taken by a user). Under the store's exclusive lock: two processes
 * starting at once on one database make one admin, not two.
 */
export function ensureFirstAdmin(store: FirstAdminStore, users: UserAdmin, token: FirstAdminToken): Promise<BootstrapResult | undefined> {
  return store.exclusively(() => createFirstAdmin(store, users, token));
}

async function createFirstAdmin(store: FirstAdminStore, users: UserAdmin, token: FirstAdminToken): Promise<BootstrapResult | undefined> {
  if ((await store.users.countAdmins()) > 0) return undefined;
  for (let n = 1; ; n++) {
    const username = n === 1 ? 'admin' : `admin-${n}`;
    if (await store.users.byName(username)) continue;
    switch (token.from) {
      case 'environment':
        await users.create(username, 'admin', null, token.token);
        return { username, token: { kind: 'environment' } };
      case 'generated': {
        const created = await users.create(username, 'admin', null);
        return { username, token: { kind: 'generated', value: created.token.token } };
      }
      case 'none':
        await users.createWithoutToken(username, 'admin', null);
        return { username, token: { kind: 'none' } };
    }
  }
}
