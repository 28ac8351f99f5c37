import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Deletes old rows one small batch at a time; the caller loops until a batch
 * deletes nothing, yielding between batches. One large DELETE would hold
 * SQLite's one connection (every publish waits behind it) and, on
 * PostgreSQL, lock thousands of rows at once.
 *
 * Every batch is its own transaction, taken under the prune lock (an
 * advisory lock on PostgreSQL), so nodes of a cluster pruning at the same
 * moment take turns: a node finds what another already deleted gone and
 * moves on, with no error and no deadlock between them. Each batch is chosen
 * afresh from what is there, so a batch interrupted or repeated is harmless.
 *
 * Old rows are found from the oldest id upwards and a batch ends at the
 * first row that is still young: ids grow with time, so the rows looked at
 * are the oldest few hundred, never a scan of the table. A row stamped
 * earlier than one before it (the clock was set back) waits for that one.
 */
export class RetentionRepository {
  constructor(
    private readonly db: Kysely<Database>,
    /** PostgreSQL: lock the codes about to go before their acks (see `pruneCodes`). */
    private readonly rowLocks: boolean,
    /** Called first in every batch's transaction: waits while another process prunes a batch. */
    private readonly pruning: (trx: Kysely<Database>) => Promise<void> = async () => undefined,
  ) {}

  /**
   * Deletes codes published before `beforeMs` with their delivery figures
   * (columns of the code), acks and idempotency keys, at most `batch` of
   * each; never one of the newest `keepNewest` codes, which the history ring
   * replays and whose acks and figures must keep working. A code's acks go
   * first, a batch at a time (a code may have thousands); the codes go in
   * the batch that finds no ack left. Answers the rows deleted.
   *
   * On PostgreSQL the codes are locked first, in id order: an ack of one of
   * them committed between deleting its acks and deleting it would fail the
   * code's delete on the foreign key; locked, such an ack waits and then
   * finds its code gone (the acks' writer drops it). Acks are written in
   * code order too, so the two never wait on each other in a circle.
   */
  pruneCodes(beforeMs: number, keepNewest: number, batch: number): Promise<number> {
    return this.#batch(async (trx) => {
      const upTo = await oldCodesUpTo(trx, beforeMs, keepNewest, batch);
      if (upTo === undefined) return 0;
      if (this.rowLocks) await trx.selectFrom('codes').select('id').where('id', '<=', upTo).orderBy('id').forUpdate().execute();
      const acks = await trx
        .deleteFrom('acks')
        .where(({ eb, refTuple, selectFrom }) =>
          eb(
            refTuple('code_id', 'user_id'),
            'in',
            selectFrom('acks as a')
              .select(['a.code_id', 'a.user_id'])
              .where('a.code_id', '<=', upTo)
              .orderBy('a.code_id')
              .orderBy('a.user_id')
              .limit(batch)
              .$asTuple('code_id', 'user_id'),
          ),
        )
        .executeTakeFirst();
      const ackCount = Number(acks.numDeletedRows);
      if (ackCount >= batch) return ackCount;
      // At most one key per code, so at most `batch` of them.
      const keys = await trx.deleteFrom('idempotency_keys').where('code_id', '<=', upTo).executeTakeFirst();
      const codes = await trx.deleteFrom('codes').where('id', '<=', upTo).executeTakeFirst();
      return ackCount + Number(keys.numDeletedRows) + Number(codes.numDeletedRows);
    });
  }

  /** Deletes at most `batch` Idempotency-Keys made before `beforeMs`; answers how many. */
  pruneIdempotencyKeys(beforeMs: number, batch: number): Promise<number> {
    return this.#batch(async (trx) => {
      const result = await trx
        .deleteFrom('idempotency_keys')
        .where(({ eb, refTuple, selectFrom }) =>
          eb(
            refTuple('user_id', 'key'),
            'in',
            selectFrom('idempotency_keys as k')
              .select(['k.user_id', 'k.key'])
              .where('k.created_at_ms', '<', beforeMs)
              .orderBy('k.created_at_ms')
              .limit(batch)
              .$asTuple('user_id', 'key'),
          ),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** Deletes at most `batch` audit entries made before `beforeMs`; answers how many. */
  pruneAudit(beforeMs: number, batch: number): Promise<number> {
    const beforeIso = new Date(beforeMs).toISOString();
    return this.#batch(async (trx) => {
      const rows = await trx.selectFrom('audit_log').select(['id', 'at']).orderBy('id').limit(batch).execute();
      // ISO 8601 times of one format sort as the times do.
      const upTo = oldPrefixEnd(rows, (row) => row.at < beforeIso);
      if (upTo === undefined) return 0;
      const result = await trx.deleteFrom('audit_log').where('id', '<=', upTo).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** Deletes at most `batch` auth events recorded before `beforeMs`; answers how many. */
  pruneAuthEvents(beforeMs: number, batch: number): Promise<number> {
    return this.#batch(async (trx) => {
      const rows = await trx.selectFrom('auth_events').select(['id', 'at_ms']).orderBy('id').limit(batch).execute();
      const upTo = oldPrefixEnd(rows, (row) => row.at_ms < beforeMs);
      if (upTo === undefined) return 0;
      const result = await trx.deleteFrom('auth_events').where('id', '<=', upTo).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  #batch(work: (trx: Kysely<Database>) => Promise<number>): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      await this.pruning(trx);
      return work(trx);
    });
  }
}

/**
 * The id of the last code of the oldest `batch` that is old enough to go
 * (ending at the first young one), below the newest `keepNewest`; undefined
 * when there is none.
 */
async function oldCodesUpTo(trx: Kysely<Database>, beforeMs: number, keepNewest: number, batch: number): Promise<number | undefined> {
  let query = trx.selectFrom('codes').select(['id', 'published_at_ms']);
  if (keepNewest > 0) {
    const keepFrom = await trx
      .selectFrom('codes')
      .select('id')
      .orderBy('id', 'desc')
      .limit(1)
      .offset(keepNewest - 1)
      .executeTakeFirst();
    if (keepFrom === undefined) return undefined;
    query = query.where('id', '<', keepFrom.id);
  }
  const rows = await query.orderBy('id').limit(batch).execute();
  return oldPrefixEnd(rows, (row) => row.published_at_ms < beforeMs);
}

/** The id of the last row of the leading run of rows that are `old`; undefined when the first is not. */
function oldPrefixEnd<R extends { readonly id: number }>(rows: readonly R[], old: (row: R) => boolean): number | undefined {
  let upTo: number | undefined;
  for (const row of rows) {
    if (!old(row)) break;
    upTo = row.id;
  }
  return upTo;
}
