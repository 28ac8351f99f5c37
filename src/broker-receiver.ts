import type { BrokerMessage, BrokerNode } from './broker/index.js';
import { type Code, publicCode } from './domain/index.js';
import type { DeliveryLedger, HistoryRing, Hub, RuntimeSettings } from './hub/index.js';
import type { CodeRecord } from './store/index.js';
import type { AuthWatcher } from './users/index.js';

/** Codes read per statement while catching up. */
const CATCH_UP_PAGE = 500;
/** Messages held while a catch-up runs; past it they are dropped and the catch-up runs once more. */
const HELD_MESSAGES = 10_000;
/** Revokes remembered of codes not delivered yet. */
const REVOKED_AHEAD = 1_000;
/** How soon a catch-up that failed (the database is away) is tried again. */
const RETRY_MS = 1_000;
/** Catch-ups clients may cause (by resuming past this node's last id): at most one per this long. */
const CLIENT_CATCH_UP_MS = 500;
/** How long a resuming client waits for such a catch-up before it is attached regardless. */
const CLIENT_WAIT_MS = 2_000;

/** Waits for `work` until `deadline` at most; never throws. */
async function within(work: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([work.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface BrokerReceiverParts {
  readonly hub: Hub;
  readonly history: HistoryRing;
  /** Where each delivery is counted for the code's row (and this node's own publishes are told apart). */
  readonly deliveries: Pick<DeliveryLedger, 'fannedOut'>;
  /** The stored codes, as catching up reads them. */
  readonly codes: {
    list(options: { since: number; limit: number; includeInactive: boolean; nowMs: number }): Promise<CodeRecord[]>;
  };
  readonly settings: RuntimeSettings;
  readonly access: Pick<AuthWatcher, 'apply' | 'poll'>;
  /** An action on a message failed (the database could not be read). */
  readonly failed: (error: unknown, what: string) => void;
  /** A catch-up read the database (counted in metrics). */
  readonly caughtUp?: () => void;
}

/**
 * This node's side of the broker contract (broker/broker.ts): it delivers
 * what the driver hands it in the deployment's one order, and keeps that
 * order when the driver's order has holes.
 *
 * The rule is the id. A code at or below the last id this node delivered is
 * never sent (a catch-up sent it already, or it was revoked or expired
 * before it could be). A code above the last id + 1 may follow one the
 * stream lost or has not carried yet (two nodes append after their commits,
 * in either order), so the node first catches up from the database, where
 * every code below it is committed already: publishes commit in id order
 * under the store's publish lock. Messages that arrive while a catch-up runs
 * are held and then handled by the same rule.
 */
export class BrokerReceiver implements BrokerNode {
  readonly #parts: BrokerReceiverParts;
  /** Set while a catch-up runs or waits to be retried: messages wait here. */
  #held: BrokerMessage[] | undefined;
  #overflowed = false;
  #running: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #revokedAhead = new Set<number>();
  #clientCatchUpAt = 0;
  /** A catch-up asked for by the driver (messages may be lost): everything, not only codes. */
  #wantFull = false;
  /** A gap asked for the codes below this id. */
  #bound: number | undefined;
  /**
   * The highest id the database has been read up to, live or not: a code
   * at or below it was sent then, or must never be (it was revoked or
   * expired when read).
   */
  #readUpTo = 0;

  constructor(parts: BrokerReceiverParts) {
    this.#parts = parts;
  }

  deliver(message: BrokerMessage): void {
    // Access and settings are read from the database whatever their order:
    // applied at once, they take effect within the second the contract gives.
    if (message.type === 'access' || message.type === 'settings') {
      this.#applyChange(message);
      return;
    }
    if (this.#held) {
      if (this.#held.length < HELD_MESSAGES) this.#held.push(message);
      else this.#overflowed = true;
      return;
    }
    this.#apply(message);
  }

  /**
   * Re-reads what messages could have carried — live codes newer than any
   * this node delivered, in id order; revokes of codes its history holds;
   * access changes; settings — and then handles the messages held
   * meanwhile. Resolves once done; rejects when the database could not be
   * read, and then tries again by itself every second, holding messages
   * until it succeeds.
   */
  catchUp(): Promise<void> {
    this.#wantFull = true;
    return this.#start();
  }

  #start(): Promise<void> {
    this.#held ??= [];
    if (this.#running) {
      // One runs: another is needed after it, for what arrived since it read.
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#run();
    return this.#running;
  }

  /**
   * Catches up when the database holds a live code this node has not
   * delivered that was published at least `ageMs` ago: one whose node died
   * between its commit and its append, or could not append it, with no
   * later code to show the gap. Younger ones are on their way.
   */
  async checkMissed(ageMs: number): Promise<void> {
    if (this.#held) return;
    const { hub, codes } = this.#parts;
    const [next] = await codes.list({ since: hub.lastId, limit: 1, includeInactive: false, nowMs: Date.now() });
    if (next !== undefined && next.id > hub.lastId && Date.now() - Date.parse(next.publishedAt) >= ageMs) await this.catchUp();
  }

  /**
   * A client resumes after `id`, which it saw on another node, and this
   * node has not delivered it yet (it lags: cut off, or slow to read):
   * catches up from the database, so the client is replayed the
   * deployment's history, not told `reset`. Waits at most 2 s; clients
   * cause at most one catch-up per half second, so a client naming a far
   * future id cannot make the node read the database in a loop.
   */
  async catchUpTo(id: number): Promise<void> {
    const { hub } = this.#parts;
    if (hub.lastId >= id) return;
    const deadline = Date.now() + CLIENT_WAIT_MS;
    // One running already read, or is reading, what was committed before it
    // began: waited on, not asked again — a crowd resuming at once, or a
    // client naming a far future id over and over, costs one pass.
    if (this.#running) await within(this.#running, deadline);
    if (hub.lastId >= id) return;
    const now = Date.now();
    if (now - this.#clientCatchUpAt < CLIENT_CATCH_UP_MS || now >= deadline) return;
    this.#clientCatchUpAt = now;
    await within(this.#running ?? this.catchUp(), deadline);
  }

  /** Stops retrying a failed catch-up (the node is stopping). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
  }

  async #run(): Promise<void> {
    clearTimeout(this.#retry);
    try {
      do {
        this.#again = false;
        // Past the bound, messages were dropped: only a full read recovers them.
        if (this.#overflowed) this.#wantFull = true;
        this.#overflowed = false;
        const full = this.#wantFull;
        const bound = full ? undefined : this.#bound;
        this.#wantFull = false;
        this.#bound = undefined;
        await this.#readDatabase(bound, full);
        this.#parts.caughtUp?.();
        if (this.#overflowed) this.#again = true;
      } while (this.#again);
    } catch (error) {
      this.#running = undefined;
      if (!this.#stopped) {
        this.#retry = setTimeout(() => {
          this.catchUp().catch((retryError: unknown) => this.#parts.failed(retryError, 'catching up from the database'));
        }, RETRY_MS);
        this.#retry.unref();
      }
      throw error;
    }
    // Done before the held messages are handled: a gap among them starts a new catch-up.
    this.#running = undefined;
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const [index, message] of held.entries()) {
      this.#apply(message);
      if (this.#held) {
        // A gap among the held messages started another catch-up: the rest wait for it, in order.
        (this.#held as BrokerMessage[]).push(...held.slice(index + 1));
        return;
      }
    }
  }

  /**
   * Sends the live codes the database holds past the last sent, in id
   * order: below `bound` only, for a gap (a catch-up must not run ahead of
   * the stream, or this node would send a revoke the stream carries among
   * them at another place than the other nodes do); all of them, and then
   * the revokes, access changes and settings, for a `full` one.
   */
  async #readDatabase(bound: number | undefined, full: boolean): Promise<void> {
    const { hub, history, codes, settings, access } = this.#parts;
    let since = Math.max(hub.lastId, this.#readUpTo);
    for (;;) {
      const nowMs = Date.now();
      const page = await codes.list({ since, limit: CATCH_UP_PAGE, includeInactive: true, nowMs });
      let past = false;
      for (const record of page) {
        if (bound !== undefined && record.id >= bound) {
          past = true;
          break;
        }
        this.#readUpTo = Math.max(this.#readUpTo, record.id);
        const live = record.revokedAt === null && (record.expiresAt === null || Date.parse(record.expiresAt) > nowMs);
        if (live && record.id > hub.lastId) this.#broadcast(publicCode(record));
      }
      if (past || page.length < CATCH_UP_PAGE) break;
      since = (page[page.length - 1] as CodeRecord).id;
    }
    // Every id below the gap's is committed (the publish lock), or was never.
    if (bound !== undefined) this.#readUpTo = Math.max(this.#readUpTo, bound - 1);
    if (!full) return;
    // Every stored code from the oldest held to the newest, page by page: the
    // range may hold codes this node never held (revoked or expired before
    // they reached it), which must not push held ones out of a single page.
    const oldest = history.oldestId;
    if (oldest !== null) {
      for (let since = oldest - 1; since < hub.lastId; ) {
        const page = await codes.list({ since, limit: CATCH_UP_PAGE, includeInactive: true, nowMs: Date.now() });
        for (const record of page) {
          if (record.revokedAt !== null && history.held(record.id)?.revoked === false) hub.revokeCode(record.id);
        }
        if (page.length < CATCH_UP_PAGE) break;
        since = (page[page.length - 1] as CodeRecord).id;
      }
    }
    await access.poll();
    await settings.load();
  }

  #apply(message: BrokerMessage): void {
    const { hub, history } = this.#parts;
    if (message.type === 'code') {
      const { id } = message.code;
      const known = Math.max(hub.lastId, this.#readUpTo);
      if (id <= known) return;
      if (this.#revokedAhead.delete(id)) return;
      if (id > known + 1) {
        // The codes below it, and no further: the held message goes first in
        // line, so it follows what the catch-up sends.
        this.#bound = Math.max(this.#bound ?? 0, id);
        this.#start().catch((error: unknown) => this.#parts.failed(error, 'catching up from the database'));
        (this.#held as BrokerMessage[]).unshift(message);
        return;
      }
      this.#broadcast(message.code);
      return;
    }
    if (message.type === 'revoke') {
      if (message.id > hub.lastId) {
        // Its code has not reached this node yet (its publisher appends
        // after the revoker did): it must then never be sent.
        this.#revokedAhead.add(message.id);
        if (this.#revokedAhead.size > REVOKED_AHEAD) this.#revokedAhead.delete(this.#revokedAhead.values().next().value as number);
        return;
      }
      if (history.held(message.id)?.revoked === true) return;
      hub.revokeCode(message.id);
    }
  }

  #broadcast(code: Code): void {
    const { hub, deliveries } = this.#parts;
    let onSent: ((fanOutMs: number) => void) | undefined;
    const audience = hub.broadcastCode(code, (fanOutMs) => onSent?.(fanOutMs));
    onSent = deliveries.fannedOut(code.id, audience);
  }

  #applyChange(message: Extract<BrokerMessage, { type: 'access' | 'settings' }>): void {
    const { settings, access } = this.#parts;
    if (message.type === 'settings') {
      settings.load().catch((error: unknown) => this.#parts.failed(error, 'reading settings another node changed'));
      return;
    }
    const kind = message.tokenId === null ? 'user_changed' : 'token_revoked';
    access
      .apply({ kind, userId: message.userId, tokenId: message.tokenId })
      .catch((error: unknown) => this.#parts.failed(error, 'applying an access change from another node'));
  }
}
