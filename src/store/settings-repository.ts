import type { Kysely } from 'kysely';
import { AuditRepository, type AuditInput } from './audit-repository.js';
import type { Database } from './schema.js';

/** Runtime settings as JSON values under string keys. */
export class SettingsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async all(): Promise<Record<string, unknown>> {
    const rows = await this.db.selectFrom('settings').selectAll().execute();
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  /** Stores the values and, in the same commit, the audit entry that explains them. */
  async put(values: Record<string, unknown>, audit?: { entry: AuditInput; now: Date }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const [key, value] of Object.entries(values)) {
        const json = JSON.stringify(value);
        await trx
          .insertInto('settings')
          .values({ key, value: json })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: json }))
          .execute();
      }
      if (audit) await new AuditRepository(trx).record(audit.entry, audit.now);
    });
  }
}
