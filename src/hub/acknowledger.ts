import { CodecastError, DatabaseUnavailableError, type Principal } from '../domain/index.js';
import type { AckRow } from '../store/index.js';
import type { AckLedger } from './ports.js';
import { AckedCode } from './acked-code.js';
import type { HistoryRing } from './history-ring.js';

export interface AckResult {
  readonly id: number;
  /** False when this user had acked the code before: acks count once per user. */
  readonly first: boolean;
  readonly latencyMs: number;
}

export interface AckStats {
  readonly total: number;
  /** Over the last RECENT first acks, of any code. */
  readonly recentMedianMs: number | null;
  readonly recentP99Ms: number | null;
  /** First acks answered and not yet written to the database. */
  readonly pending: number;
}

export interface AcknowledgerOptions {
  /** Pending acks that start a write at once rather than at the next period. */
  readonly flushBatch?: number;
  /** Pending acks held at most while the database cannot take them; past it an ack answers 503. */
  readonly maxPending?: number;
  /** Codes older than the history ring whose ack record is kept (least recently acked leave first). */
  readonly olderCodes?: number;
  readonly onFirstAck?: (latencyMs: number) => void;
  /** A batch could not be written; `kept` says whether it waits for the next flush. */
  readonly onFlushFailed?: (error: unknown, count: number, kept: boolean) => void;
}

const RECENT = 1000;
/** After a failed write, periodic flushes wait this long, doubling per failure up to the maximum. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * Records users' acknowledgements of codes, from every transport, by one
 * rule: an ack names a code that exists, is not revoked and has not expired
 * (else `code_not_found` 404, `code_revoked` 409, `code_expired` 410), and
 * counts once per user.
 *
 * An ack costs no statement of its own. The code is judged from the history
 * ring in memory; who has acked which code is kept in memory too (an
 * `AckedCode` per code, a bit per user), so `first` is known without a read
 * and a repeated ack costs nothing. First acks wait in memory and are
 * written in batches, one transaction per flush (every flush period, or at
 * once when `flushBatch` are waiting, and on stop). The database's primary
 * key on (code, user) stays the last word on the stored figures.
 *
 * Reads happen only to learn what memory does not hold: whether a user has
 * acked a code this process did not publish (its code held since before the
 * process started, or older than the ring), and such an older code itself.
 * They are gathered over one turn of the event loop and made together, a
 * statement per 256 codes, so a client acking old codes by the thousand
 * costs a few statements rather than a queue of them in front of every
 * publish. Every structure is bounded whatever a client sends: records for
 * codes held by the ring, `olderCodes` more for older ones (a miss
 * included), `maxPending` pending acks; an id greater than any code
 * broadcast is unknown without a look.
 */
export class Acknowledger {
  readonly #recent: number[] = [];
  #next = 0;
  #total = 0;
  readonly #flushBatch: number;
  readonly #maxPending: number;
  readonly #olderCodes: number;
  /** Records of codes held by the ring. */
  readonly #held = new Map<number, AckedCode>();
  /** Records of older codes, least recently acked first; null: no such code. */
  readonly #older = new Map<number, AckedCode | null>();
  /** Lookups waiting for the next read: code id → the users to look up. */
  #wanted = new Map<number, Set<number>>();
  #lookup: Promise<Map<number, AckedCode | null>> | undefined;
  /** Held codes up to this id were published before this process started: their stored acks are read once. */
  readonly #storedUpTo: number;
  #pending: AckRow[] = [];
  #writing: readonly AckRow[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #flushQueued = false;
  /** Failed writes in a row, and when the periodic flush may try again. */
  #failures = 0;
  #retryAt = 0;

  constructor(
    private readonly acks: AckLedger,
    private readonly history: HistoryRing,
    private readonly options: AcknowledgerOptions = {},
  ) {
    this.#flushBatch = options.flushBatch ?? 500;
    this.#maxPending = options.maxPending ?? 50_000;
    this.#olderCodes = options.olderCodes ?? 256;
    this.#storedUpTo = history.lastId;
  }

  /**
   * Records `principal`'s ack of code `codeId`.
   * @throws CodecastError code_not_found, code_revoked, code_expired, or
   *   database_unavailable when acks cannot be stored and too many wait.
   */
  async ack(codeId: number, principal: Principal): Promise<AckResult> {
    const userId = principal.user.id;
    let known = this.#known(codeId);
    if (known === undefined || (known !== null && !known.knows(userId))) known = await this.#look(codeId, userId);
    if (known === null) throw new CodecastError('code_not_found', `No code has the id ${codeId}.`);
    return this.#record(known, userId, Date.now());
  }

  /** The hub revoked a code: later acks of it are refused, whether the ring holds it or not. */
  revoked(codeId: number): void {
    const known = this.#held.get(codeId) ?? this.#older.get(codeId);
    if (known) known.revoked = true;
  }

  /** What memory knows of a code: its record, null when it does not exist, undefined when a read must tell. */
  #known(codeId: number): AckedCode | null | undefined {
    const known = this.#held.get(codeId);
    if (known) return known;
    const older = this.#older.get(codeId);
    if (older !== undefined) {
      // Least recently used last out: a hit moves to the back.
      this.#older.delete(codeId);
      this.#older.set(codeId, older);
      return older;
    }
    const held = this.history.held(codeId);
    // Published by this process, every ack of it went through here; of a
    // code from before, memory knows only the users it looked up.
    if (held) return this.#keepHeld(AckedCode.of(held, codeId > this.#storedUpTo));
    // Codes are broadcast in id order, so one past the newest was never
    // broadcast: no client can have been given it.
    if (codeId > this.history.lastId) return null;
    return undefined;
  }

  /** Looks `userId`'s ack of the code up at the next read, with the code when memory lacks it. */
  async #look(codeId: number, userId: number): Promise<AckedCode | null> {
    let users = this.#wanted.get(codeId);
    if (!users) {
      users = new Set();
      this.#wanted.set(codeId, users);
    }
    users.add(userId);
    this.#lookup ??= new Promise((resolve) => setImmediate(resolve)).then(() => this.#read());
    const found = await this.#lookup;
    return found.get(codeId) ?? null;
  }

  /** Makes the lookups gathered so far: codes memory lacks, then each user's acks among them. */
  async #read(): Promise<Map<number, AckedCode | null>> {
    const wanted = this.#wanted;
    this.#wanted = new Map();
    this.#lookup = undefined;
    const found = new Map<number, AckedCode | null>();
    const unknownIds: number[] = [];
    for (const codeId of wanted.keys()) {
      const known = this.#known(codeId);
      if (known === undefined) unknownIds.push(codeId);
      else found.set(codeId, known);
    }
    if (unknownIds.length > 0) {
      const records = new Map((await this.acks.byIds(unknownIds)).map((record) => [record.id, record]));
      for (const codeId of unknownIds) {
        // Another lookup may have settled it meanwhile.
        const settled = this.#known(codeId);
        if (settled !== undefined) {
          found.set(codeId, settled);
          continue;
        }
        const record = records.get(codeId);
        found.set(
          codeId,
          this.#keepOlder(
            codeId,
            record
              ? new AckedCode(
                  record.id,
                  Date.parse(record.publishedAt),
                  record.expiresAt === null ? null : Date.parse(record.expiresAt),
                  undefined,
                  record.revokedAt !== null,
                  false,
                )
              : null,
          ),
        );
      }
    }
    const byUser = new Map<number, number[]>();
    for (const [codeId, users] of wanted) {
      const known = found.get(codeId);
      if (!known) continue;
      for (const userId of users) {
        if (known.knows(userId)) continue;
        let ids = byUser.get(userId);
        if (!ids) {
          ids = [];
          byUser.set(userId, ids);
        }
        ids.push(codeId);
      }
    }
    for (const [userId, ids] of byUser) {
      // Acks answered but not stored, which a record that left memory forgot,
      // taken before and after the read: one being written may be stored
      // after the read looked and gone from memory before it returns.
      const acked = this.#unstored(userId);
      for (const codeId of await this.acks.ackedBy(userId, ids)) acked.add(codeId);
      for (const codeId of this.#unstored(userId)) acked.add(codeId);
      for (const codeId of ids) {
        const known = found.get(codeId) as AckedCode;
        if (acked.has(codeId)) known.markAcked(userId);
        else known.markNotAcked(userId);
      }
    }
    return found;
  }

  #unstored(userId: number): Set<number> {
    const ids = new Set<number>();
    for (const ack of this.#writing) if (ack.userId === userId) ids.add(ack.codeId);
    for (const ack of this.#pending) if (ack.userId === userId) ids.add(ack.codeId);
    return ids;
  }

  #keepHeld(known: AckedCode): AckedCode {
    this.#held.set(known.id, known);
    // Codes that left the ring move to the older records; checked only
    // when there are more records than held codes, so rarely.
    if (this.#held.size > this.history.size) {
      const oldest = this.history.oldestId ?? Infinity;
      for (const [id, record] of this.#held) {
        if (id < oldest) {
          this.#held.delete(id);
          this.#keepOlder(id, record);
        }
      }
    }
    return known;
  }

  #keepOlder(codeId: number, known: AckedCode | null): AckedCode | null {
    this.#older.set(codeId, known);
    if (this.#older.size > this.#olderCodes) {
      this.#older.delete(this.#older.keys().next().value as number);
    }
    return known;
  }

  #record(known: AckedCode, userId: number, now: number): AckResult {
    if (known.isRevoked) throw new CodecastError('code_revoked', `The code ${known.id} was revoked; it cannot be acknowledged.`);
    if (known.expiresAtMs !== null && known.expiresAtMs <= now) {
      throw new CodecastError('code_expired', `The code ${known.id} has expired; it cannot be acknowledged.`);
    }
    const latencyMs = Math.max(0, now - known.publishedAtMs);
    if (known.hasAcked(userId)) return { id: known.id, first: false, latencyMs };
    if (this.#pending.length + this.#writing.length >= this.#maxPending) {
      // The database has not taken acks for a while: say so rather than
      // hold without bound or answer an ack that may never be stored.
      throw new CodecastError('database_unavailable', 'Acks cannot be stored now; retry later.', undefined, 5);
    }
    known.markAcked(userId);
    this.#pending.push({ codeId: known.id, userId, ackedAtMs: now, latencyMs });
    this.#counted(latencyMs);
    if (this.#pending.length >= this.#flushBatch && !this.#flushQueued) void this.flushDue(now);
    return { id: known.id, first: true, latencyMs };
  }

  /**
   * The periodic flush: as `flush`, but after failed writes it waits (1 s,
   * doubling to 30 s) before trying again, since a database that cannot take
   * writes may hold each attempt for its whole busy timeout.
   */
  flushDue(now = Date.now()): Promise<void> {
    if (now < this.#retryAt) return this.#flushing;
    return this.flush();
  }

  /**
   * Writes every pending ack, in one transaction; runs one at a time. Never
   * throws: a failed write is reported through `onFlushFailed` and, when the
   * database cannot serve for now, kept for the next flush.
   */
  flush(): Promise<void> {
    if (this.#flushQueued) return this.#flushing;
    this.#flushQueued = true;
    this.#flushing = this.#flushing.then(() => {
      this.#flushQueued = false;
      return this.#write();
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#writing = batch;
    try {
      await this.acks.addAcks(batch);
      this.#failures = 0;
      this.#retryAt = 0;
    } catch (error) {
      this.#failures++;
      this.#retryAt = Date.now() + Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.#failures - 1));
      const kept = error instanceof DatabaseUnavailableError;
      // Kept in front of what came since, in the order they were answered.
      if (kept) this.#pending = batch.concat(this.#pending);
      this.options.onFlushFailed?.(error, batch.length, kept);
    } finally {
      this.#writing = [];
    }
  }

  #counted(latencyMs: number): void {
    this.#total++;
    this.#recent[this.#next] = latencyMs;
    this.#next = (this.#next + 1) % RECENT;
    this.options.onFirstAck?.(latencyMs);
  }

  stats(): AckStats {
    const sorted = [...this.#recent].sort((a, b) => a - b);
    const at = (p: number) => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length, Math.ceil(p * sorted.length)) - 1] ?? null));
    return {
      total: this.#total,
      recentMedianMs: at(0.5),
      recentP99Ms: at(0.99),
      pending: this.#pending.length + this.#writing.length,
    };
  }
}
