import type { HeldCode } from './history-ring.js';

/**
 * A set of user ids as a bitmap indexed by id: a byte per eight users however
 * many are in it, grown on demand — user ids are the database's, dense from
 * 1, and only authenticated ones reach it. Ids past a million (128 KB of
 * bitmap) go to a set instead, so a deployment whose ids grew sparse cannot
 * make every code cost megabytes.
 */
class UserBits {
  #bytes = EMPTY;
  #far: Set<number> | undefined;

  has(userId: number): boolean {
    if (userId >= FAR_USER_ID) return this.#far?.has(userId) === true;
    const byte = userId >> 3;
    return byte < this.#bytes.length && ((this.#bytes[byte] as number) & (1 << (userId & 7))) !== 0;
  }

  add(userId: number): void {
    if (userId >= FAR_USER_ID) {
      this.#far ??= new Set();
      this.#far.add(userId);
      return;
    }
    const byte = userId >> 3;
    if (byte >= this.#bytes.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#bytes.length * 2, 16));
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes[byte] = (this.#bytes[byte] as number) | (1 << (userId & 7));
  }
}

/**
 * What the acknowledger knows of one code: enough to judge an ack (when it
 * was published, when it expires, whether it is revoked) and which users
 * have acked it, stored or not yet.
 *
 * A code this process published saw every ack of it, so what it holds is
 * the whole truth (`complete`). Of any other code it knows only the users it
 * has looked up, one by one: reading every acker of an old code would cost a
 * row per subscriber, and a client acking old codes by the thousand must not
 * be able to make the server read millions of rows.
 */
export class AckedCode {
  readonly #acked = new UserBits();
  /** Users looked up and found not to have acked; only for a code that is not `complete`. */
  #notAcked: UserBits | undefined;

  constructor(
    readonly id: number,
    readonly publishedAtMs: number,
    readonly expiresAtMs: number | null,
    /** The history ring's entry while the code is held: its `revoked` is kept up to date by the hub. */
    readonly held: HeldCode | undefined,
    public revoked: boolean,
    /** Whether every ack of the code went through this record. */
    readonly complete = true,
  ) {}

  static of(held: HeldCode, complete = true): AckedCode {
    const { code } = held;
    return new AckedCode(
      code.id,
      Date.parse(code.publishedAt),
      code.expiresAt === null ? null : Date.parse(code.expiresAt),
      held,
      held.revoked,
      complete,
    );
  }

  get isRevoked(): boolean {
    return this.revoked || this.held?.revoked === true;
  }

  /** Whether `hasAcked` can answer for this user without a look at the database. */
  knows(userId: number): boolean {
    return this.complete || this.#acked.has(userId) || this.#notAcked?.has(userId) === true;
  }

  hasAcked(userId: number): boolean {
    return this.#acked.has(userId);
  }

  markAcked(userId: number): void {
    this.#acked.add(userId);
  }

  /** The database says this user has not acked the code (nor has memory). */
  markNotAcked(userId: number): void {
    if (this.complete) return;
    this.#notAcked ??= new UserBits();
    this.#notAcked.add(userId);
  }
}

const EMPTY = new Uint8Array(0);
const FAR_USER_ID = 1 << 20;
