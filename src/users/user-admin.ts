import { CodecastError, USERNAME_PATTERN, hashToken, newToken, tokenLabel, type Principal, type Role, type User } from '../domain/index.js';
import type { TokenInfo } from '../store/index.js';
import type { UserDirectory } from './ports.js';
import type { UserCache } from './user-cache.js';

/** What must happen to open connections when access is withdrawn. */
export interface AccessEnforcer {
  closeUser(userId: number): void;
  closeToken(userId: number, tokenId: number): void;
}

export interface IssuedToken extends TokenInfo {
  /** The token itself: shown once, never stored. */
  readonly token: string;
}

/** Who performed an action, for the audit trail; null for the CLI and start-up. */
export type Actor = Principal | null;

const actorName = (actor: Actor) => actor?.user.username ?? null;

/**
 * Creating users and tokens, disabling, role changes and revocation — each
 * audited, each recorded as an auth event for other processes, and each
 * taking effect here at once: cache entries gone, connections closed.
 */
export class UserAdmin {
  constructor(
    private readonly directory: UserDirectory,
    private readonly cache: UserCache | undefined,
    private readonly enforcer: AccessEnforcer | undefined,
  ) {}

  async create(username: string, role: Role, actor: Actor, chosenToken?: string): Promise<{ user: User; token: IssuedToken }> {
    const token = chosenToken ?? newToken();
    const hash = hashToken(token);
    const created = await this.#create(username, role, actor, hash);
    this.cache?.forgetUnknown(hash);
    return { user: created.user, token: { ...(created.info as TokenInfo), token } };
  }

  /**
   * A user with no token yet: the first admin of a server that had no
   * terminal to show a token on. `createToken` gives it one.
   */
  async createWithoutToken(username: string, role: Role, actor: Actor): Promise<User> {
    return (await this.#create(username, role, actor, undefined)).user;
  }

  async #create(
    username: string,
    role: Role,
    actor: Actor,
    hash: string | undefined,
  ): Promise<{ user: User; info: TokenInfo | undefined }> {
    if (!USERNAME_PATTERN.test(username)) {
      throw new CodecastError(
        'invalid_request',
        'A username is 1-64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit.',
        { field: 'username' },
      );
    }
    const now = new Date();
    // One commit: a user never exists without its first token or its audit
    // entry, whatever fails half-way (a full disk), so a retry is not a 409.
    const created = await this.directory.transaction(async (tx) => {
      const user = await tx.users.create(username, role, now);
      if (!user) return undefined;
      const info = hash === undefined ? undefined : await tx.users.addToken(user.id, hash, 'first token', now);
      await tx.audit.record({ actor: actorName(actor), action: 'user.create', target: username, details: { role } }, now);
      return { user, info };
    });
    // The database refuses a name that differs from an existing one only by case.
    if (!created)
      throw new CodecastError('user_exists', `A user named "${username}" exists already (names are unique regardless of case).`);
    return created;
  }

  list(): Promise<User[]> {
    return this.directory.users.list();
  }

  async get(username: string): Promise<User> {
    const user = await this.directory.users.byName(username);
    if (!user) throw new CodecastError('user_not_found', `No user is named "${username}".`);
    return user;
  }

  async tokens(username: string): Promise<TokenInfo[]> {
    const user = await this.get(username);
    return this.directory.users.tokensOf(user.id);
  }

  async update(username: string, change: { disabled?: boolean; role?: Role }, actor: Actor): Promise<User> {
    const user = await this.get(username);
    if (actor && actor.user.id === user.id && (change.disabled === true || change.role === 'user')) {
      throw new CodecastError('invalid_request', 'An admin cannot disable or demote itself; ask another admin.');
    }
    const now = new Date();
    const updated = await this.directory.transaction(async (tx) => {
      const after = (await tx.users.update(user.id, change)) as User;
      await tx.authEvents.record('user_changed', user.id, null, now.getTime());
      await tx.audit.record({ actor: actorName(actor), action: 'user.update', target: username, details: { ...change } }, now);
      return after;
    });
    // Committed: it takes effect here at once; other processes follow the auth event.
    this.cache?.evictUser(user.id);
    if (updated.disabled) this.enforcer?.closeUser(user.id);
    return updated;
  }

  async createToken(username: string, rawLabel: string | null, actor: Actor): Promise<IssuedToken> {
    const label = tokenLabel(rawLabel);
    const user = await this.get(username);
    const now = new Date();
    const token = newToken();
    const hash = hashToken(token);
    const info = await this.directory.transaction(async (tx) => {
      const added = await tx.users.addToken(user.id, hash, label, now);
      await tx.audit.record(
        { actor: actorName(actor), action: 'token.create', target: username, details: { tokenId: added.id, label } },
        now,
      );
      return added;
    });
    this.cache?.forgetUnknown(hash);
    return { ...info, token };
  }

  async revokeToken(tokenId: number, actor: Actor): Promise<void> {
    const now = new Date();
    const revoked = await this.directory.transaction(async (tx) => {
      const owner = await tx.users.revokeToken(tokenId, now);
      if (!owner) return undefined;
      await tx.authEvents.record('token_revoked', owner.userId, tokenId, now.getTime());
      await tx.audit.record(
        { actor: actorName(actor), action: 'token.revoke', target: String(tokenId), details: { userId: owner.userId } },
        now,
      );
      return owner;
    });
    if (!revoked) {
      const exists = await this.directory.users.tokenExists(tokenId);
      if (!exists) throw new CodecastError('token_not_found', `No token has the id ${tokenId}.`);
      return; // Revoking twice is harmless: the token is revoked either way.
    }
    this.cache?.evictToken(tokenId);
    this.enforcer?.closeToken(revoked.userId, tokenId);
  }
}
