import type { Kysely, Selectable } from 'kysely';
import type { Principal, Role, User } from '../domain/index.js';
import type { Database } from './schema.js';

export interface TokenInfo {
  readonly id: number;
  readonly label: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

function toUser(row: Pick<Selectable<Database['users']>, 'id' | 'username' | 'role' | 'disabled' | 'created_at'>): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role as Role,
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
  };
}

/** Users and their hashed tokens. */
export class UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(username: string, role: Role, now: Date): Promise<User | undefined> {
    const row = await this.db
      .insertInto('users')
      .values({ username, role, disabled: 0, created_at: now.toISOString() })
      // No conflict target: the name may clash with the column's own unique
      // constraint or with the case-insensitive index (migration 0002).
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  /** The user of that name in any case (names are unique regardless of case; the index is on lower(username)). */
  async byName(username: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['username']), '=', username.toLowerCase()))
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async byId(id: number): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('id').execute();
    return rows.map(toUser);
  }

  async countAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async update(id: number, change: { disabled?: boolean; role?: Role }): Promise<User | undefined> {
    const values: { disabled?: number; role?: string } = {};
    if (change.disabled !== undefined) values.disabled = change.disabled ? 1 : 0;
    if (change.role !== undefined) values.role = change.role;
    if (Object.keys(values).length > 0) {
      await this.db.updateTable('users').set(values).where('id', '=', id).execute();
    }
    return this.byId(id);
  }

  async addToken(userId: number, hash: string, label: string | null, now: Date): Promise<TokenInfo> {
    const row = await this.db
      .insertInto('tokens')
      .values({ user_id: userId, hash, label, created_at: now.toISOString(), revoked_at: null })
      .returning(['id', 'label', 'created_at', 'revoked_at'])
      .executeTakeFirstOrThrow();
    return { id: row.id, label: row.label, createdAt: row.created_at, revokedAt: row.revoked_at };
  }

  async tokensOf(userId: number): Promise<TokenInfo[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .select(['id', 'label', 'created_at', 'revoked_at'])
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  /** Marks a token revoked; answers its owner, or undefined if no live token has that id. */
  async revokeToken(tokenId: number, now: Date): Promise<{ userId: number } | undefined> {
    const row = await this.db
      .updateTable('tokens')
      .set({ revoked_at: now.toISOString() })
      .where('id', '=', tokenId)
      .where('revoked_at', 'is', null)
      .returning(['user_id'])
      .executeTakeFirst();
    return row ? { userId: row.user_id } : undefined;
  }

  async tokenExists(tokenId: number): Promise<boolean> {
    const row = await this.db.selectFrom('tokens').select('id').where('id', '=', tokenId).executeTakeFirst();
    return row !== undefined;
  }

  /** The user behind a live token, disabled or not; undefined for unknown or revoked tokens. */
  async principalByTokenHash(hash: string): Promise<Principal | undefined> {
    const row = await this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select(['tokens.id as token_id', 'users.id', 'users.username', 'users.role', 'users.disabled', 'users.created_at'])
      .where('tokens.hash', '=', hash)
      .where('tokens.revoked_at', 'is', null)
      .executeTakeFirst();
    return row ? { user: toUser(row), tokenId: row.token_id } : undefined;
  }
}
