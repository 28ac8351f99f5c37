import type { Principal } from '../domain/index.js';
import type { JwtUserStore } from './ports.js';

/**
 * The users JWTs name: the user whose name is the token's `sub`, made on its
 * first connection as a plain `user` — an ordinary user from then on, listed,
 * disabled and counted like any other.
 */
export class JwtUsers {
  constructor(private readonly directory: JwtUserStore) {}

  /**
   * The principal of `username` (in any case: names are unique regardless of
   * case), its user made first if there is none. Whatever role the user has
   * is answered: whether a JWT may act as it is the authenticator's call.
   */
  async principalOf(username: string): Promise<Principal> {
    const known = await this.directory.users.byName(username);
    if (known) return { user: known, tokenId: null };
    const now = new Date();
    // The insert comes first in its transaction and does nothing on a clash,
    // so two first connections at once (two processes, two nodes) make one
    // user: the second finds the first's once it has committed. Inserting
    // before reading also spares SQLite a read lock to upgrade.
    const created = await this.directory.transaction(async (tx) => {
      const user = await tx.users.create(username, 'user', now);
      if (user) await tx.audit.record({ actor: null, action: 'user.create', target: username, details: { role: 'user', via: 'jwt' } }, now);
      return user;
    });
    const user = created ?? (await this.directory.users.byName(username));
    // A clash with no row behind it: the other transaction's row was deleted since, which nothing does.
    if (!user) throw new Error(`the user "${username}" could neither be created nor found`);
    return { user, tokenId: null };
  }
}
