import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly details: Record<string, unknown> | null;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'at'>;

/** Who did what to whom, and when: every admin action. */
export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async record(entry: AuditInput, now: Date): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: now.toISOString(),
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        details: entry.details === null ? null : JSON.stringify(entry.details),
      })
      .execute();
  }

  /** Newest first, at most `limit`, older than `before` when given. */
  async list(limit: number, before?: number): Promise<AuditEntry[]> {
    let query = this.db.selectFrom('audit_log').selectAll();
    if (before !== undefined) query = query.where('id', '<', before);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
    }));
  }
}
