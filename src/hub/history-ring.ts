import { isExpired, type Code } from '../domain/index.js';
import type { Encoder } from './connection.js';

/** A code held for replay, with its frames memoised per transport. */
export interface HeldCode {
  readonly code: Code;
  revoked: boolean;
  /** Encoded frames by transport, filled on first use so a reconnect storm encodes each code once. */
  readonly frames: Map<string, unknown>;
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

/**
 * The newest codes in id order, bounded. `floor` is the highest id that is no
 * longer held: a client that last saw an id below it may have missed codes.
 */
export class HistoryRing {
  readonly #capacity: number;
  readonly #held: HeldCode[] = [];
  #floor: number;

  constructor(capacity: number, initial: readonly { code: Code; revoked: boolean }[] = [], floor = 0) {
    this.#capacity = capacity;
    this.#floor = floor;
    for (const entry of initial) this.push(entry.code, entry.revoked);
  }

  push(code: Code, revoked = false): HeldCode {
    const held: HeldCode = { code, revoked, frames: new Map() };
    this.#held.push(held);
    // Shifting an array of at most a few thousand is cheaper than a ring
    // index at this size, and the history is touched once per publish.
    while (this.#held.length > this.#capacity) {
      this.#floor = (this.#held.shift() as HeldCode).code.id;
    }
    return held;
  }

  /** Marks a held code revoked; false when it is not held. */
  revoke(id: number): boolean {
    const held = this.#find(id);
    if (held) held.revoked = true;
    return held !== undefined;
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
