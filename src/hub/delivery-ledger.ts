import { TRANSPORTS, type TransportName } from './connection.js';
import type { DeliveryRecords } from './ports.js';

export type DeliveryCounts = Record<TransportName, number>;

export interface DeliveryStats {
  /** Live code deliveries written since start, by transport. */
  readonly delivered: Readonly<DeliveryCounts>;
  /** Code deliveries written by replay since start. */
  readonly replayed: number;
}

interface Unstored {
  readonly counts: DeliveryCounts;
  replayed: number;
}

const zeroCounts = (): DeliveryCounts => ({ sse: 0, ws: 0, socketio: 0 });

/** Codes whose figures one flush writes in one commit. */
const FLUSH_BATCH = 500;

/** Publishes of this node not fanned out here yet, remembered at most. */
const OWN_PUBLISHES = 1_000;

/**
 * A code fanned out here before any publish of this node claimed it: another
 * node's, or this node's own when the broker, or a catch-up that filled a
 * gap from the database, brought it back before the publish had registered.
 */
interface FannedOutFirst {
  /** How long its fan-out took, once it has finished. */
  fanOutMs: number | undefined;
  /** The publish's wish to hear when the fan-out finishes, if it came first. */
  onSent: ((fanOutMs: number) => void) | undefined;
}

interface OwnPublish {
  /** The audience the publish stored in the code's row. */
  readonly counted: Readonly<DeliveryCounts>;
  readonly onSent: ((fanOutMs: number) => void) | undefined;
}

/**
 * Every delivery figure, in one place: what this process has written (for
 * stats and metrics), and what the store is still to add to each code's
 * row. A code's row starts with the audience its publishing node had; the
 * ledger adds every other node's audience as it fans the code out, and the
 * connections that got it some other way — by replay, or by attaching while
 * the publish was being stored — and writes them through the
 * `DeliveryRecords` port, in batches (`flush`).
 * Counts the store could not take are kept for the next flush.
 */
export class DeliveryLedger {
  readonly #records: DeliveryRecords | undefined;
  readonly #delivered = zeroCounts();
  #replayed = 0;
  #unstored = new Map<number, Unstored>();
  readonly #own = new Map<number, OwnPublish>();
  readonly #fannedOutFirst = new Map<number, FannedOutFirst>();

  /** Without `records`, figures are only counted (a hub in a unit test). */
  constructor(records?: DeliveryRecords) {
    this.#records = records;
  }

  /** `count` live deliveries were written to connections of `transport`. */
  live(transport: TransportName, count: number): void {
    this.#delivered[transport] += count;
  }

  /**
   * This node published `codeId`, storing `counted` as its audience; the
   * code reaches this node's connections when the broker delivers it back.
   * `onSent` hears how long that fan-out took.
   */
  published(codeId: number, counted: Readonly<DeliveryCounts>, onSent?: (fanOutMs: number) => void): void {
    const first = this.#fannedOutFirst.get(codeId);
    if (first !== undefined) {
      // Counted in full when it was fanned out; the row holds `counted` already.
      this.#fannedOutFirst.delete(codeId);
      this.#add(codeId, counted, -1);
      if (first.fanOutMs !== undefined) onSent?.(first.fanOutMs);
      else first.onSent = onSent;
      return;
    }
    this.#own.set(codeId, { counted, onSent });
    if (this.#own.size > OWN_PUBLISHES) this.#own.delete(this.#own.keys().next().value as number);
  }

  /**
   * Code `codeId` is being fanned out here to `audience`: counted for its
   * row — in full for another node's code, or what changed since this
   * node's publish stored its audience (taken back by `published` when the
   * code came back before its publish had registered). Answers what wants
   * to hear when the fan-out has finished.
   */
  fannedOut(codeId: number, audience: Readonly<DeliveryCounts>): ((fanOutMs: number) => void) | undefined {
    const own = this.#own.get(codeId);
    if (own !== undefined) {
      this.#own.delete(codeId);
      this.#add(codeId, audience, 1, own.counted);
      return own.onSent;
    }
    this.#add(codeId, audience, 1);
    const first: FannedOutFirst = { fanOutMs: undefined, onSent: undefined };
    this.#fannedOutFirst.set(codeId, first);
    if (this.#fannedOutFirst.size > OWN_PUBLISHES) this.#fannedOutFirst.delete(this.#fannedOutFirst.keys().next().value as number);
    return (fanOutMs) => {
      first.fanOutMs = fanOutMs;
      first.onSent?.(fanOutMs);
    };
  }

  /** Adds `sign` × (`counts` − `less`) to the code's unstored figures. */
  #add(codeId: number, counts: Readonly<DeliveryCounts>, sign: 1 | -1, less?: Readonly<DeliveryCounts>): void {
    let entry: Unstored | undefined;
    for (const transport of TRANSPORTS) {
      const added = sign * (counts[transport] - (less?.[transport] ?? 0));
      if (added === 0) continue;
      entry ??= this.#entry(codeId);
      entry.counts[transport] += added;
    }
    // A publish that took back what its early fan-out counted may leave nothing to write.
    if (entry !== undefined && entry.replayed === 0 && TRANSPORTS.every((t) => (entry as Unstored).counts[t] === 0))
      this.#unstored.delete(codeId);
  }

  /** A connection of `transport` was given code `codeId` by replay. */
  replayed(codeId: number, transport: TransportName): void {
    const entry = this.#entry(codeId);
    entry.counts[transport]++;
    entry.replayed++;
    this.#replayed++;
  }

  /**
   * Writes what the store has not taken yet: in batches of one commit each
   * where the store can (one statement per code otherwise, and every node
   * flushing every few seconds made that a commit per code per node); on
   * failure keeps what was not written and rethrows.
   */
  async flush(): Promise<void> {
    const records = this.#records;
    if (!records || this.#unstored.size === 0) return;
    const entries = [...this.#unstored].sort(([a], [b]) => a - b);
    this.#unstored = new Map();
    const batch = records.addDeliveriesBatch?.bind(records);
    const step = batch ? FLUSH_BATCH : 1;
    for (let index = 0; index < entries.length; index += step) {
      const chunk = entries.slice(index, index + step);
      try {
        if (batch) await batch(chunk.map(([codeId, { counts, replayed }]) => ({ codeId, counts, replayed })));
        else for (const [codeId, { counts, replayed }] of chunk) await records.addDeliveries(codeId, counts, replayed);
      } catch (error) {
        for (const [laterId, later] of entries.slice(index)) this.#keep(laterId, later.counts, later.replayed);
        throw error;
      }
    }
  }

  stats(): DeliveryStats {
    return { delivered: { ...this.#delivered }, replayed: this.#replayed };
  }

  #entry(codeId: number): Unstored {
    let entry = this.#unstored.get(codeId);
    if (!entry) {
      entry = { counts: zeroCounts(), replayed: 0 };
      this.#unstored.set(codeId, entry);
    }
    return entry;
  }

  #keep(codeId: number, counts: Readonly<DeliveryCounts>, replayed: number): void {
    const entry = this.#entry(codeId);
    for (const transport of TRANSPORTS) entry.counts[transport] += counts[transport];
    entry.replayed += replayed;
  }
}
