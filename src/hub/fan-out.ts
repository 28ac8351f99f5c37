import type { ConnectionRegistry } from './connection-registry.js';
import { TRANSPORTS, type Connection, type Encoder, type HubEvent, type TransportName } from './connection.js';
import { frameOfHeld, revokeFrameOfHeld, type HeldCode } from './history-ring.js';
import { isSlowConsumer } from './slow-consumer.js';

/** The revoke of a code still in history, whose frames are memoised there for replay too. */
export interface HeldRevoke {
  readonly revokeOf: HeldCode;
}

/** What goes to every connection: a code or a held code's revoke (frames memoised on its history entry), or another broadcast. */
export type Outgoing = HeldCode | HeldRevoke | HubEvent;

export interface FanOutOptions {
  /** Frames a connection may leave untaken before it is closed as a slow consumer. */
  readonly connectionQueue: number;
  /** Connections visited between looks at the clock. */
  readonly sliceSize: number;
  /** How long one turn of the walk may write before yielding to the event loop. */
  readonly turnMs: number;
}

export interface FanOutSink {
  encoderOf(transport: TransportName): Encoder<unknown>;
  /** `count` live code deliveries were written to connections of `transport`. */
  delivered(transport: TransportName, count: number): void;
  /** A connection left more than the queue bound untaken; the sink closes it. */
  slowConsumer(connection: Connection): void;
}

interface Entry {
  readonly item: Outgoing;
  /** Codes among all entries appended so far, this one included. */
  readonly codesSoFar: number;
  /** Frames of a non-code event by transport (a code keeps its own on its `HeldCode`). */
  frames: Map<TransportName, unknown> | undefined;
}

interface Waiter {
  readonly seq: number;
  /** Connections still without this entry: those registered when it was appended, less those written or gone since. */
  remaining: number;
  readonly appendedAt: number;
  readonly onSent: (fanOutMs: number) => void;
}

/**
 * The fan-out as one rolling walk over every connection.
 *
 * Appended events form a log with sequence numbers; each connection's mark
 * (kept in the registry) is the last sequence written to it. The walk visits
 * connections in turns of a few milliseconds, yielding to the event loop
 * between them, and writes each connection everything past its mark as one
 * frame, encoded once per transport and per mark. A code published mid-walk is picked up by the
 * connections still ahead in this lap and by the others when the walk comes
 * round to them: every connection gets it within one lap. A batch-at-a-time
 * fan-out instead makes a code wait for the lap in progress and then for
 * its own, up to two laps. Under sustained load that halves the worst
 * latency for the same CPU, and publishes are answered between turns, not
 * after a whole lap.
 */
export class FanOut {
  readonly #registry: ConnectionRegistry;
  readonly #sink: FanOutSink;
  readonly #options: FanOutOptions;
  /** Entries after `#base - 1`; `#entries[i]` has sequence `#base + i`. */
  #entries: Entry[] = [];
  #base = 1;
  #head = 0;
  #codesAppended = 0;
  /** `codesSoFar` of the entry just before `#base` (trimmed). */
  #codesBeforeBase = 0;
  /** One combined frame per transport per mark, valid until the next append. */
  readonly #frameCache = TRANSPORTS.map(() => new Map<number, unknown>());
  /** In sequence order; a later entry is never complete before an earlier one. */
  readonly #waiters: Waiter[] = [];
  // The walk's position: lane index and the live iterator over that lane.
  // Map iterators survive entries being added and removed between slices.
  #lane = TRANSPORTS.length;
  #cursor: IterableIterator<Connection> | undefined;
  /** `#head` when the current lap began: by its end every connection holds at least this. */
  #lapFrom = 0;
  #scheduled = false;

  constructor(registry: ConnectionRegistry, sink: FanOutSink, options: FanOutOptions) {
    this.#registry = registry;
    this.#sink = sink;
    this.#options = options;
  }

  /** The sequence a newly attached connection starts from: it has (by replay) everything up to here. */
  get head(): number {
    return this.#head;
  }

  append(item: Outgoing, onSent?: (fanOutMs: number) => void): void {
    const isCode = 'code' in item;
    if (isCode) this.#codesAppended++;
    this.#entries.push({ item, codesSoFar: this.#codesAppended, frames: undefined });
    this.#head++;
    for (const cache of this.#frameCache) cache.clear();
    if (onSent) this.#waiters.push({ seq: this.#head, remaining: this.#registry.size, appendedAt: performance.now(), onSent });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#walk);
    }
  }

  /** A connection whose mark was `mark` left: it no longer holds up the entries after its mark. */
  left(mark: number): void {
    this.#written(mark);
  }

  /** A connection with mark `mark` has been written, or has gone: one fewer for every waiter past it. */
  #written(mark: number): void {
    const waiters = this.#waiters;
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i] as Waiter;
      if (waiter.seq <= mark) break;
      waiter.remaining--;
    }
  }

  /** Writes every connection everything it lacks, now, in one synchronous pass (before a shutdown). */
  flushAll(): void {
    let slow: Connection[] | undefined;
    for (let laneIndex = 0; laneIndex < TRANSPORTS.length; laneIndex++) {
      this.#cursor = this.#registry.lane(TRANSPORTS[laneIndex] as TransportName).keys();
      const found = this.#visitCursor(laneIndex, Infinity);
      if (found.slow) slow = slow ? slow.concat(found.slow) : found.slow;
    }
    this.#cursor = undefined;
    this.#lane = TRANSPORTS.length;
    this.#lapFrom = this.#head;
    this.#trimTo(this.#head);
    this.#settleWaiters(true);
    if (slow) for (const connection of slow) this.#sink.slowConsumer(connection);
  }

  /**
   * One turn of the walk: slices until everyone is caught up or the turn's
   * time is spent, then back to the event loop, which answers publishes and
   * lets newly published codes join the lap. Yielding after every slice
   * instead made each delivery cost a third more CPU in the Socket.IO
   * benchmark (23 → 31 µs; yielding through `process.nextTick` did not), so
   * the walk yields by time, not by count.
   */
  readonly #walk = (): void => {
    this.#scheduled = false;
    const until = performance.now() + this.#options.turnMs;
    let caughtUp: boolean;
    do caughtUp = this.#walkSlice();
    while (!caughtUp && performance.now() < until);
    if (!caughtUp && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#walk);
    }
  };

  /** Visits one slice of connections; true when every connection has everything. */
  #walkSlice(): boolean {
    let budget = this.#options.sliceSize;
    let slow: Connection[] | undefined;
    let caughtUp = false;
    while (budget > 0) {
      if (this.#cursor === undefined) {
        if (this.#lane >= TRANSPORTS.length) {
          this.#trimTo(this.#lapFrom);
          if (this.#lapFrom === this.#head) {
            // A whole lap without an append: everyone is caught up.
            this.#settleWaiters(true);
            caughtUp = true;
            break;
          }
          this.#lapFrom = this.#head;
          this.#lane = 0;
        }
        this.#cursor = this.#registry.lane(TRANSPORTS[this.#lane] as TransportName).keys();
      }
      const found = this.#visitCursor(this.#lane, budget);
      budget -= found.visited;
      if (found.slow) slow = slow ? slow.concat(found.slow) : found.slow;
      if (found.exhausted) {
        this.#cursor = undefined;
        this.#lane++;
      }
    }
    this.#settleWaiters(false);
    if (slow) for (const connection of slow) this.#sink.slowConsumer(connection);
    return caughtUp;
  }

  /** Visits up to `budget` connections from the cursor of lane `laneIndex`. */
  #visitCursor(laneIndex: number, budget: number): { visited: number; exhausted: boolean; slow: Connection[] | undefined } {
    const transport = TRANSPORTS[laneIndex] as TransportName;
    const lane = this.#registry.lane(transport);
    const cursor = this.#cursor as IterableIterator<Connection>;
    const head = this.#head;
    const limit = this.#options.connectionQueue;
    let slow: Connection[] | undefined;
    let delivered = 0;
    let visited = 0;
    let exhausted = true;
    // for-of on a saved Map iterator: breaking out does not close it (Map
    // iterators have no `return`), so the next slice resumes where this stopped.
    for (const connection of cursor) {
      const mark = lane.get(connection) as number;
      if (mark !== head) {
        // Marked before the write: should a send ever end its connection at
        // once, setting the mark after it would put the connection back.
        lane.set(connection, head);
        if (this.#waiters.length > 0) this.#written(mark);
        const frame = this.#frameSince(mark, laneIndex);
        if (frame !== null) {
          connection.send(frame);
          if (isSlowConsumer(connection.backlog, limit)) {
            slow ??= [];
            slow.push(connection);
          }
        }
        delivered += this.#codesAppended - this.#codesUpTo(mark);
      }
      if (++visited >= budget) {
        exhausted = false;
        break;
      }
    }
    if (delivered > 0) this.#sink.delivered(transport, delivered);
    return { visited, exhausted, slow };
  }

  /** Everything after `mark` as one frame for the transport of lane `laneIndex`; null when it carries none of it. */
  #frameSince(mark: number, laneIndex: number): unknown {
    const cache = this.#frameCache[laneIndex] as Map<number, unknown>;
    const cached = cache.get(mark);
    if (cached !== undefined) return cached;
    const transport = TRANSPORTS[laneIndex] as TransportName;
    const encoder = this.#sink.encoderOf(transport);
    const frames: unknown[] = [];
    for (let seq = mark + 1; seq <= this.#head; seq++) {
      const frame = this.#frameOf(this.#entries[seq - this.#base] as Entry, transport, encoder);
      if (frame !== null) frames.push(frame);
    }
    const frame = frames.length === 0 ? null : frames.length === 1 ? frames[0] : encoder.combine(frames);
    cache.set(mark, frame);
    return frame;
  }

  #frameOf(entry: Entry, transport: TransportName, encoder: Encoder<unknown>): unknown {
    const item = entry.item;
    if ('code' in item) return frameOfHeld(item, encoder);
    if ('revokeOf' in item) return revokeFrameOfHeld(item.revokeOf, encoder);
    entry.frames ??= new Map();
    const frames = entry.frames;
    let frame = frames.get(transport);
    if (frame === undefined) {
      frame = encoder.encode(item);
      frames.set(transport, frame);
    }
    return frame;
  }

  #codesUpTo(seq: number): number {
    return seq < this.#base ? this.#codesBeforeBase : (this.#entries[seq - this.#base] as Entry).codesSoFar;
  }

  /** Drops entries every connection already has (sequence ≤ `seq`). */
  #trimTo(seq: number): void {
    const drop = seq - this.#base + 1;
    if (drop <= 0) return;
    this.#codesBeforeBase = (this.#entries[drop - 1] as Entry).codesSoFar;
    this.#entries = this.#entries.slice(drop);
    this.#base = seq + 1;
  }

  #settleWaiters(all: boolean): void {
    if (this.#waiters.length === 0) return;
    const now = performance.now();
    let settled = 0;
    for (const waiter of this.#waiters) {
      if (!all && waiter.remaining > 0) break;
      waiter.onSent(now - waiter.appendedAt);
      settled++;
    }
    this.#waiters.splice(0, settled);
  }
}
