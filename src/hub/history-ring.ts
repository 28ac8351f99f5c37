import { isExpired, type Code } from '../domain/index.js';
import type { Encoder } from './connection.js';

/** A code held for replay, with its frames memoised per transport. */
export interface HeldCode {
  readonly code: Code;
  revoked: boolean;
  /**
   * When revoked: the newest code id at that moment. A client whose last id
   * is greater got that code after the revoke, so it has the revoke already.
   * `Infinity` when unknown (revoked before this process started).
   */
  revokedAfter: number;
  /** Encoded frames by transport, filled on first use so a reconnect storm encodes each code once. */
  readonly frames: Map<string, unknown>;
  /** The revoke's frames by transport, likewise; made on the first revoke sent. */
  revokeFrames: Map<string, unknown> | undefined;
}

/** The held code's frame for `encoder`'s transport, encoded on first use. */
export function frameOfHeld(held: HeldCode, encoder: Encoder<unknown>): unknown {
  let frame = held.frames.get(encoder.transport);
  if (frame === undefined) {
    frame = encoder.encode({ type: 'code', data: held.code });
    held.frames.set(encoder.transport, frame);
  }
  return frame;
}

/** The revoke of a held code for `encoder`'s transport, encoded on first use. */
export function revokeFrameOfHeld(held: HeldCode, encoder: Encoder<unknown>): unknown {
  held.revokeFrames ??= new Map();
  const frames = held.revokeFrames;
  let frame = frames.get(encoder.transport);
  if (frame === undefined) {
    frame = encoder.encode({ type: 'revoke', data: { id: held.code.id } });
    frames.set(encoder.transport, frame);
  }
  return frame;
}

/**
 * The newest codes in id order, bounded. `floor` is the highest id that is no
 * longer held: a client that last saw an id below it may have missed codes.
 */
export class HistoryRing {
  readonly #capacity: number;
  readonly #held: HeldCode[] = [];
  /** The revoked ones among `#held`, in the order they were revoked (loaded ones first, by id). */
  #revoked: HeldCode[] = [];
  #floor: number;

  constructor(capacity: number, initial: readonly { code: Code; revoked: boolean }[] = [], floor = 0) {
    this.#capacity = capacity;
    this.#floor = floor;
    for (const entry of initial) this.push(entry.code, entry.revoked);
  }

  /** Holds a new code; `revoked` only for codes loaded at start, whose revoke time is unknown. */
  push(code: Code, revoked = false): HeldCode {
    const held: HeldCode = { code, revoked, revokedAfter: Infinity, frames: new Map(), revokeFrames: undefined };
    this.#held.push(held);
    if (revoked) this.#revoked.push(held);
    // Shifting an array of at most a few thousand is cheaper than a ring
    // index at this size, and the history is touched once per publish.
    while (this.#held.length > this.#capacity) {
      const gone = this.#held.shift() as HeldCode;
      this.#floor = gone.code.id;
      if (gone.revoked) this.#revoked = this.#revoked.filter((r) => r !== gone);
    }
    return held;
  }

  /** Marks a held code revoked now; undefined when it is not held. */
  revoke(id: number): HeldCode | undefined {
    const held = this.#find(id);
    if (held && !held.revoked) {
      held.revoked = true;
      held.revokedAfter = this.lastId;
      this.#revoked.push(held);
    }
    return held;
  }

  /**
   * Revoked codes a client that last saw `since` may hold without knowing
   * they were revoked, in the order they were revoked: those with an id up
   * to `since` (it may have received them) revoked when code `since` had
   * already been published (it may have left before the revoke). A revoke
   * from before code `since` was published reached the client before that
   * code did (the fan-out keeps one order), or was sent, or had its code
   * skipped, by the replay that brought that code. This holds because codes
   * and revokes enter the history in the one order every connection gets
   * them in; a broker that let nodes apply them in different orders would
   * have to answer every revoked code up to `since` instead.
   */
  *revokedSince(since: number): Generator<HeldCode> {
    for (const held of this.#revoked) {
      if (held.code.id <= since && held.revokedAfter >= since) yield held;
    }
  }

  get lastId(): number {
    return this.#held.at(-1)?.code.id ?? this.#floor;
  }

  get oldestId(): number | null {
    return this.#held[0]?.code.id ?? null;
  }

  /** Whether replay from `since` would be complete. */
  covers(since: number): boolean {
    return since >= this.#floor;
  }

  /** Held codes newer than `since`, oldest first, without revoked or expired ones. */
  *after(since: number, nowMs: number): Generator<HeldCode> {
    let i = this.#held.length;
    while (i > 0 && (this.#held[i - 1] as HeldCode).code.id > since) i--;
    for (; i < this.#held.length; i++) {
      const held = this.#held[i] as HeldCode;
      if (!held.revoked && !isExpired(held.code, nowMs)) yield held;
    }
  }

  /** The held code with this id, if it is held. */
  held(id: number): HeldCode | undefined {
    return this.#find(id);
  }

  #find(id: number): HeldCode | undefined {
    // Binary search: ids are strictly increasing.
    let lo = 0;
    let hi = this.#held.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const held = this.#held[mid] as HeldCode;
      if (held.code.id === id) return held;
      if (held.code.id < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  get size(): number {
    return this.#held.length;
  }
}
