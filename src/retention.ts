import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config/index.js';

/**
 * One batch of each kind of pruning, as the store's `RetentionRepository`
 * does them: each deletes at most `batch` rows in one short transaction and
 * answers how many it deleted.
 */
export interface PruneSteps {
  pruneIdempotencyKeys(beforeMs: number, batch: number): Promise<number>;
  pruneCodes(beforeMs: number, keepNewest: number, batch: number): Promise<number>;
  pruneAudit(beforeMs: number, batch: number): Promise<number>;
  pruneAuthEvents(beforeMs: number, batch: number): Promise<number>;
}

/** How long each kind of row is kept; null: for ever. */
export interface RetentionPolicy {
  /** Codes with their delivery figures and acks (`CODECAST_RETENTION_DAYS`). */
  readonly codesMs: number | null;
  /** Codes kept whatever their age: the history ring's (`CODECAST_HISTORY`). */
  readonly keepNewestCodes: number;
  /** The audit trail (`CODECAST_AUDIT_RETENTION_DAYS`). */
  readonly auditMs: number | null;
  /** `CODECAST_IDEMPOTENCY_HOURS`. */
  readonly idempotencyMs: number;
  /** Auth events only tell running processes what changed: a day is plenty. */
  readonly authEventsMs: number;
}

const AUTH_EVENTS_MS = 24 * 3_600_000;

/** The policy the settings make. */
export function retentionPolicy(config: Config): RetentionPolicy {
  return {
    codesMs: config.retention.codesMs,
    keepNewestCodes: config.historySize,
    auditMs: config.retention.auditMs,
    idempotencyMs: config.idempotencyMs,
    authEventsMs: AUTH_EVENTS_MS,
  };
}

/** Rows deleted by one run, by kind; `codes` counts the codes' acks and keys too. */
export interface Pruned {
  readonly idempotencyKeys: number;
  readonly codes: number;
  readonly audit: number;
  readonly authEvents: number;
}

export interface PruneOptions {
  /** Rows per statement; 500 keeps a batch to a few milliseconds. */
  readonly batch?: number;
  /** Waited between batches so publishes and reads queued meanwhile go first. */
  readonly pauseMs?: number;
  /** Ends the run before its next batch (the server is stopping). */
  readonly signal?: AbortSignal;
  /** Hears each batch, for tests: which kind and how many rows. */
  readonly onBatch?: (kind: keyof Pruned, deleted: number) => void;
}

const BATCH = 500;
const PAUSE_MS = 10;

/**
 * Deletes every row older than the policy keeps, batch after batch with a
 * pause between, until none is left: the fan-out, the publishes and the acks
 * get the database between any two batches, however large the backlog (a
 * first run on a year of codes). Safe to run on several nodes at once.
 */
export async function pruneOldRows(steps: PruneSteps, policy: RetentionPolicy, nowMs: number, options: PruneOptions = {}): Promise<Pruned> {
  const batch = options.batch ?? BATCH;
  const pauseMs = options.pauseMs ?? PAUSE_MS;
  const drain = async (kind: keyof Pruned, step: () => Promise<number>): Promise<number> => {
    let total = 0;
    while (!options.signal?.aborted) {
      const deleted = await step();
      if (deleted === 0) break;
      total += deleted;
      options.onBatch?.(kind, deleted);
      await sleep(pauseMs);
    }
    return total;
  };
  // Keys before codes: a key points at its code, and outlives it by nothing.
  const idempotencyKeys = await drain('idempotencyKeys', () => steps.pruneIdempotencyKeys(nowMs - policy.idempotencyMs, batch));
  const { codesMs, auditMs } = policy;
  const codes = codesMs === null ? 0 : await drain('codes', () => steps.pruneCodes(nowMs - codesMs, policy.keepNewestCodes, batch));
  const audit = auditMs === null ? 0 : await drain('audit', () => steps.pruneAudit(nowMs - auditMs, batch));
  const authEvents = await drain('authEvents', () => steps.pruneAuthEvents(nowMs - policy.authEventsMs, batch));
  return { idempotencyKeys, codes, audit, authEvents };
}
