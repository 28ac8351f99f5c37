import type { Code, CodeDraft, TransportName } from '../domain/index.js';
import type { AckRow, AuditInput, CodeRecord } from '../store/index.js';

// What the hub asks of the database, method by method: the store's
// repositories satisfy these structurally and the composition root passes
// them, so the hub imports nothing from the store but types. A method that
// cannot reach the database rejects with `DatabaseUnavailableError`.

/** The record of published codes, as the publish pipeline uses it. */
export interface CodeLedger {
  /** The code first published under this user's Idempotency-Key, with the request's hash. */
  idempotent(userId: number, key: string): Promise<{ requestHash: string; code: CodeRecord } | undefined>;
  /**
   * Stores a new code with its audience, Idempotency-Key and audit entry, in
   * one commit; or stores nothing and answers the code first published under
   * the same Idempotency-Key (`earlier`), or the id of a live code with the
   * same dedup key published at or after `dedupSinceMs` (`duplicateOf`).
   */
  insert(
    draft: CodeDraft,
    dedupKey: string,
    publishedBy: number | null,
    nowMs: number,
    extras?: {
      readonly audience?: Readonly<Record<TransportName, number>>;
      readonly idempotency?: { key: string; requestHash: string; userId: number } | undefined;
      /** The audit entry of the publish; its target is the new code's id. */
      readonly audit?: Omit<AuditInput, 'target'>;
      readonly dedupSinceMs?: number | undefined;
    },
  ): Promise<Code | { readonly duplicateOf: number } | { readonly earlier: { requestHash: string; code: CodeRecord } }>;
  byId(id: number): Promise<CodeRecord | undefined>;
  /** Marks the code revoked, with its audit entry in the same commit; false if it was already. */
  revoke(id: number, now: Date, audit?: AuditInput): Promise<boolean>;
}

/** Acks as the acknowledger reads and writes them. */
export interface AckLedger {
  /** The codes of those ids that exist, in no particular order. */
  byIds(ids: readonly number[]): Promise<CodeRecord[]>;
  /** Which of these codes the user has acked. */
  ackedBy(userId: number, ids: readonly number[]): Promise<number[]>;
  /** Stores first acks in one transaction; one already stored is left as it was. */
  addAcks(acks: readonly AckRow[]): Promise<void>;
}

/** Delivery figures per code, added to what is stored. */
export interface DeliveryRecords {
  addDeliveries(codeId: number, counts: Readonly<Record<TransportName, number>>, replayed: number): Promise<void>;
  /** The same for many codes in one commit; all or nothing. */
  addDeliveriesBatch?(
    entries: readonly { readonly codeId: number; readonly counts: Readonly<Record<TransportName, number>>; readonly replayed: number }[],
  ): Promise<void>;
}

/** The stored runtime settings. */
export interface SettingsRecord {
  all(): Promise<Record<string, unknown>>;
  put(values: Record<string, unknown>, audit?: { entry: AuditInput; now: Date }): Promise<void>;
}
