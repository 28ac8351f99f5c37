import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** What can make a cached authentication wrong. */
export type AuthEventKind = 'user_changed' | 'token_revoked';

export interface AuthEvent {
  readonly id: number;
  readonly kind: AuthEventKind;
  readonly userId: number;
  readonly tokenId: number | null;
}

/**
 * A log of changes to users and tokens, so that every process (and a server
 * whose database the CLI changed) can evict caches and close connections.
 */
export class AuthEventRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async record(kind: AuthEventKind, userId: number, tokenId: number | null, nowMs: number): Promise<void> {
    await this.db.insertInto('auth_events').values({ at_ms: nowMs, kind, user_id: userId, token_id: tokenId }).execute();
  }

  async after(id: number): Promise<AuthEvent[]> {
    const rows = await this.db.selectFrom('auth_events').selectAll().where('id', '>', id).orderBy('id').limit(1000).execute();
    return rows.map((r) => ({ id: r.id, kind: r.kind as AuthEventKind, userId: r.user_id, tokenId: r.token_id }));
  }

  async lastId(): Promise<number> {
    const row = await this.db.selectFrom('auth_events').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row?.id ?? 0;
  }
}
