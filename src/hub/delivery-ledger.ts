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

/**
 * Every delivery figure, in one place: what this process has written (for
 * stats and metrics), and what the store is still to add to each code's
 * row. A code's row starts with the audience it was published to; the
 * ledger adds the connections that got it some other way — by replay, or by
 * attaching while the publish was being stored — and writes them through
 * the `DeliveryRecords` port, in batches (`flush`) or at once (`record`).
 * Counts the store could not take are kept for the next flush.
 */
export class DeliveryLedger {
  readonly #records: DeliveryRecords | undefined;
  readonly #delivered = zeroCounts();
  #replayed = 0;
  #unstored = new Map<number, Unstored>();

  /** Without `records`, figures are only counted (a hub in a unit test). */
  constructor(records?: DeliveryRecords) {
    this.#records = records;
  }

  /** `count` live deliveries were written to connections of `transport`. */
  live(transport: TransportName, count: number): void {
    this.#delivered[transport] += count;
  }

  /** A connection of `transport` was given code `codeId` by replay. */
  replayed(codeId: number, transport: TransportName): void {
    const entry = this.#entry(codeId);
    entry.counts[transport]++;
    entry.replayed++;
    this.#replayed++;
  }

  /**
   * Adds deliveries of one code to its row now (connections that attached
   * while its publish was stored). What fails is kept for the next flush,
   * and the error rethrown for the caller to report.
   */
  async record(codeId: number, counts: Readonly<DeliveryCounts>): Promise<void> {
    try {
      await this.#records?.addDeliveries(codeId, counts, 0);
    } catch (error) {
      this.#keep(codeId, counts, 0);
      throw error;
    }
  }

  /** Writes what the store has not taken yet, one statement per code; on failure keeps the rest and rethrows. */
  async flush(): Promise<void> {
    const records = this.#records;
    if (!records || this.#unstored.size === 0) return;
    const entries = [...this.#unstored];
    this.#unstored = new Map();
    for (const [index, [codeId, { counts, replayed }]] of entries.entries()) {
      try {
        await records.addDeliveries(codeId, counts, replayed);
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
