import { type Kysely, type Selectable, sql } from 'kysely';
import type { Code, CodeDraft, TransportName } from '../domain/index.js';
import { AuditRepository, type AuditInput } from './audit-repository.js';
import type { Database } from './schema.js';

/** A code with what only operators see: revocation and delivery counts. */
export interface CodeRecord extends Code {
  readonly revokedAt: string | null;
  readonly delivered: Readonly<Record<TransportName, number>>;
  readonly replayed: number;
}

export interface AckFigures {
  readonly users: number;
  readonly medianMs: number | null;
  readonly p99Ms: number | null;
}

type CodeRow = Selectable<Database['codes']>;

/** One user's first ack of a code, as the acknowledger hands it over to be stored. */
export interface AckRow {
  readonly codeId: number;
  readonly userId: number;
  readonly ackedAtMs: number;
  readonly latencyMs: number;
}

// Rows per statement, largest first: a batch of rows to insert or ids to
// look up goes in chunks of these sizes, so n of them cost at most n/256 + 12
// statements and the statement cache holds five shapes rather than one per
// batch size.
const CHUNKS = [256, 64, 16, 4, 1] as const;

function* chunked<T>(items: readonly T[]): Generator<readonly T[]> {
  let at = 0;
  for (const size of CHUNKS) {
    while (items.length - at >= size) {
      yield items.slice(at, at + size);
      at += size;
    }
  }
}

function toCode(row: CodeRow): Code {
  return {
    id: row.id,
    code: row.code,
    value: row.value,
    type: row.type,
    message: row.message,
    publishedAt: row.published_at,
    expiresAt: row.expires_at,
    source: row.source,
  };
}

function toRecord(row: CodeRow): CodeRecord {
  return {
    ...toCode(row),
    revokedAt: row.revoked_at,
    delivered: { sse: row.delivered_sse, ws: row.delivered_ws, socketio: row.delivered_socketio },
    replayed: row.replayed,
  };
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

async function duplicateOf(db: Kysely<Database>, dedupKey: string, sinceMs: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('codes')
    .select('id')
    .where('dedup_key', '=', dedupKey)
    .where('published_at_ms', '>=', sinceMs)
    .where('revoked_at', 'is', null)
    .orderBy('id', 'desc')
    .executeTakeFirst();
  return row?.id;
}

/** Codes, their delivery counts, acks and idempotency keys. */
export class CodeRepository {
  constructor(
    private readonly db: Kysely<Database>,
    /**
     * Called first in every publish's transaction: waits until no other
     * process sharing the database is publishing, so ids commit in the order
     * they are handed out and the dedup window is one for all of them.
     */
    private readonly publishing: (trx: Kysely<Database>) => Promise<void> = async () => undefined,
    /** PostgreSQL's: a publish is one call of `codecast_publish` with this lock key. Absent on SQLite. */
    private readonly postgres?: { readonly publishLock: number },
  ) {}

  /**
   * Stores a new code in one transaction with what goes with it: the
   * audience it is about to be handed to, its Idempotency-Key and its audit
   * entry, so a publish is one commit and the trail cannot miss a code.
   */
  async insert(
    draft: CodeDraft,
    dedupKey: string,
    publishedBy: number | null,
    nowMs: number,
    extras: {
      readonly audience?: Readonly<Record<TransportName, number>>;
      readonly idempotency?: { key: string; requestHash: string; userId: number } | undefined;
      /** The publish's audit entry; its target is the new code's id. */
      readonly audit?: Omit<AuditInput, 'target'>;
      /** Refuse the code when a live one with its dedup key was published at or after this time. */
      readonly dedupSinceMs?: number | undefined;
    } = {},
  ): Promise<Code | { readonly duplicateOf: number } | { readonly earlier: IdempotentPublish }> {
    const { audience, idempotency, audit, dedupSinceMs } = extras;
    const row = {
      code: draft.code,
      dedup_key: dedupKey,
      value: draft.value,
      type: draft.type,
      message: draft.message,
      source: draft.source,
      published_at: new Date(nowMs).toISOString(),
      published_at_ms: nowMs,
      expires_at: draft.ttlSeconds === null ? null : new Date(nowMs + draft.ttlSeconds * 1000).toISOString(),
      revoked_at: null,
      published_by: publishedBy,
      delivered_sse: audience?.sse ?? 0,
      delivered_ws: audience?.ws ?? 0,
      delivered_socketio: audience?.socketio ?? 0,
    };
    if (this.postgres) return this.#insertInOneStatement(this.postgres.publishLock, row, extras);
    return this.db.transaction().execute(async (trx) => {
      await this.publishing(trx);
      // Looked up again under the lock: the same key sent to two processes
      // at once is one publish, not a primary-key violation.
      if (idempotency) {
        const earlier = await idempotentIn(trx, idempotency.userId, idempotency.key);
        if (earlier) return { earlier };
      }
      if (dedupSinceMs !== undefined) {
        const earlier = await duplicateOf(trx, dedupKey, dedupSinceMs);
        if (earlier !== undefined) return { duplicateOf: earlier };
      }
      const stored = await trx.insertInto('codes').values(row).returningAll().executeTakeFirstOrThrow();
      if (idempotency) {
        await trx
          .insertInto('idempotency_keys')
          .values({
            key: idempotency.key,
            request_hash: idempotency.requestHash,
            code_id: stored.id,
            user_id: idempotency.userId,
            created_at_ms: nowMs,
          })
          .execute();
      }
      if (audit) await new AuditRepository(trx).record({ ...audit, target: String(stored.id) }, new Date(nowMs));
      return toCode(stored);
    });
  }

  /**
   * PostgreSQL: the same transaction as one call of `codecast_publish`
   * (migration 0006), one round trip. In six round trips of a client whose
   * event loop is busy fanning codes out, the publish lock was held for
   * four of them, and every node's publishes waited behind it.
   */
  async #insertInOneStatement(
    lock: number,
    row: Omit<CodeRow, 'id' | 'replayed'>,
    extras: {
      readonly idempotency?: { key: string; requestHash: string; userId: number } | undefined;
      readonly audit?: Omit<AuditInput, 'target'>;
      readonly dedupSinceMs?: number | undefined;
    },
  ): Promise<Code | { readonly duplicateOf: number } | { readonly earlier: IdempotentPublish }> {
    const { idempotency, audit, dedupSinceMs } = extras;
    const result = await sql<{ o_outcome: 'earlier' | 'duplicate' | 'inserted'; o_id: number; o_request_hash: string | null }>`
      select * from codecast_publish(
        ${lock}, ${row.code}, ${row.dedup_key}, ${row.value}, ${row.type}, ${row.message}, ${row.source},
        ${row.published_at}, ${row.published_at_ms}, ${row.expires_at}, ${row.published_by},
        ${row.delivered_sse}, ${row.delivered_ws}, ${row.delivered_socketio},
        ${dedupSinceMs ?? null},
        ${idempotency?.userId ?? null}, ${idempotency?.key ?? null}, ${idempotency?.requestHash ?? null},
        ${row.published_at}, ${audit?.actor ?? null}, ${audit?.action ?? null},
        ${audit?.details == null ? null : JSON.stringify(audit.details)}
      )`.execute(this.db);
    const answer = result.rows[0];
    if (answer === undefined) throw new Error('codecast_publish answered nothing');
    switch (answer.o_outcome) {
      case 'inserted':
        return toCode({ ...row, id: answer.o_id, replayed: 0 });
      case 'duplicate':
        return { duplicateOf: answer.o_id };
      case 'earlier': {
        const earlier = await this.byId(answer.o_id);
        if (!earlier) throw new Error(`the code of an Idempotency-Key, id ${answer.o_id}, is gone`);
        return { earlier: { requestHash: answer.o_request_hash ?? '', code: earlier } };
      }
    }
  }

  /**
   * The newest `count` codes, oldest first (revoked ones included: the
   * history keeps their place), and the highest id older than all of them.
   */
  async newest(count: number): Promise<{ codes: CodeRecord[]; floor: number }> {
    const rows = await this.db
      .selectFrom('codes')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(count + 1)
      .execute();
    const floor = rows.length > count ? (rows.pop() as CodeRow).id : 0;
    return { codes: rows.reverse().map(toRecord), floor };
  }

  async list(options: { since: number; limit: number; includeInactive: boolean; nowMs: number }): Promise<CodeRecord[]> {
    let query = this.db.selectFrom('codes').selectAll().where('id', '>', options.since);
    if (!options.includeInactive) {
      const nowIso = new Date(options.nowMs).toISOString();
      query = query.where('revoked_at', 'is', null).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]));
    }
    const rows = await query.orderBy('id').limit(options.limit).execute();
    return rows.map(toRecord);
  }

  async byId(id: number): Promise<CodeRecord | undefined> {
    const row = await this.db.selectFrom('codes').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  /** The codes of those ids that exist, in no particular order. */
  async byIds(ids: readonly number[]): Promise<CodeRecord[]> {
    const records: CodeRecord[] = [];
    for (const chunk of chunked(ids)) {
      const rows = await this.db.selectFrom('codes').selectAll().where('id', 'in', chunk).execute();
      for (const row of rows) records.push(toRecord(row));
    }
    return records;
  }

  /** Marks the code revoked, with its audit entry in the same commit; false if it was already. */
  async revoke(id: number, now: Date, audit?: AuditInput): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('codes')
        .set({ revoked_at: now.toISOString() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      const revoked = result.numUpdatedRows > 0n;
      if (revoked && audit) await new AuditRepository(trx).record(audit, now);
      return revoked;
    });
  }

  async addDeliveries(id: number, counts: Readonly<Record<TransportName, number>>, replayed: number): Promise<void> {
    await this.db
      .updateTable('codes')
      .set((eb) => ({
        delivered_sse: eb('delivered_sse', '+', counts.sse),
        delivered_ws: eb('delivered_ws', '+', counts.ws),
        delivered_socketio: eb('delivered_socketio', '+', counts.socketio),
        replayed: eb('replayed', '+', replayed),
      }))
      .where('id', '=', id)
      .execute();
  }

  /**
   * Adds the delivery figures of many codes in one commit: on PostgreSQL one
   * statement, in id order (retention locks codes in that order too); on
   * SQLite one transaction of calls, which are not round trips there.
   */
  async addDeliveriesBatch(
    entries: readonly { readonly codeId: number; readonly counts: Readonly<Record<TransportName, number>>; readonly replayed: number }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const sorted = [...entries].sort((a, b) => a.codeId - b.codeId);
    if (this.postgres) {
      const rows = sorted.map(
        (e) =>
          sql`(${e.codeId}::bigint, ${e.counts.sse}::integer, ${e.counts.ws}::integer, ${e.counts.socketio}::integer, ${e.replayed}::integer)`,
      );
      await sql`update codes set
          delivered_sse = codes.delivered_sse + v.sse,
          delivered_ws = codes.delivered_ws + v.ws,
          delivered_socketio = codes.delivered_socketio + v.socketio,
          replayed = codes.replayed + v.replayed
        from (values ${sql.join(rows)}) as v(id, sse, ws, socketio, replayed)
        where codes.id = v.id`.execute(this.db);
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      const codes = new CodeRepository(trx);
      for (const e of sorted) await codes.addDeliveries(e.codeId, e.counts, e.replayed);
    });
  }

  /**
   * Stores a batch of acks in one transaction; an ack already stored (same
   * code and user) is left as it was, so the database has the last word on
   * who acked first.
   */
  async addAcks(acks: readonly AckRow[]): Promise<void> {
    if (acks.length === 0) return;
    // In code order: retention locks the codes it deletes in that order too
    // (see RetentionRepository.pruneCodes), so neither waits on the other in a circle.
    const sorted = [...acks].sort((a, b) => a.codeId - b.codeId);
    try {
      await this.#insertAcks(sorted);
    } catch (error) {
      if (!isForeignKeyViolation(error)) throw error;
      // An old code was pruned after it was acked: its ack goes with it, and
      // the batch's other acks are stored.
      const existing = new Set((await this.byIds([...new Set(sorted.map((ack) => ack.codeId))])).map((code) => code.id));
      await this.#insertAcks(sorted.filter((ack) => existing.has(ack.codeId)));
    }
  }

  async #insertAcks(acks: readonly AckRow[]): Promise<void> {
    if (acks.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const chunk of chunked(acks)) {
        const rows = chunk.map((ack) => ({
          code_id: ack.codeId,
          user_id: ack.userId,
          acked_at: new Date(ack.ackedAtMs).toISOString(),
          latency_ms: ack.latencyMs,
        }));
        await trx
          .insertInto('acks')
          .values(rows)
          .onConflict((oc) => oc.columns(['code_id', 'user_id']).doNothing())
          .execute();
      }
    });
  }

  /** The codes among `ids` that `userId` has acked. */
  async ackedBy(userId: number, ids: readonly number[]): Promise<number[]> {
    const acked: number[] = [];
    for (const chunk of chunked(ids)) {
      const rows = await this.db.selectFrom('acks').select('code_id').where('user_id', '=', userId).where('code_id', 'in', chunk).execute();
      for (const row of rows) acked.push(row.code_id);
    }
    return acked;
  }

  async ackFigures(codeId: number): Promise<AckFigures> {
    const rows = await this.db.selectFrom('acks').select('latency_ms').where('code_id', '=', codeId).orderBy('latency_ms').execute();
    const sorted = rows.map((r) => r.latency_ms);
    return { users: sorted.length, medianMs: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  }

  /** The publish an admin made under an Idempotency-Key; keys are per admin. */
  idempotent(userId: number, key: string): Promise<IdempotentPublish | undefined> {
    return idempotentIn(this.db, userId, key);
  }
}

/** A row points at one that does not exist (SQLite's extended code; PostgreSQL's SQLSTATE). */
function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || (code === '23503' && error instanceof Error && 'severity' in error);
}

/** The publish an admin made under an Idempotency-Key, with the hash of that request. */
export interface IdempotentPublish {
  readonly requestHash: string;
  readonly code: CodeRecord;
}

async function idempotentIn(db: Kysely<Database>, userId: number, key: string): Promise<IdempotentPublish | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .innerJoin('codes', 'codes.id', 'idempotency_keys.code_id')
    .selectAll('codes')
    .select('idempotency_keys.request_hash')
    .where('idempotency_keys.user_id', '=', userId)
    .where('idempotency_keys.key', '=', key)
    .executeTakeFirst();
  return row ? { requestHash: row.request_hash, code: toRecord(row) } : undefined;
}
