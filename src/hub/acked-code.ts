import type { HeldCode } from './history-ring.js';

/**
 * What the acknowledger knows of one code: enough to judge an ack (when it
 * was published, when it expires, whether it is revoked) and which users
 * have acked it, stored or not yet. Users are a bitmap indexed by user id:
 * a byte per eight users however many ack, grown on demand — user ids are
 * the database's, dense from 1, and only authenticated ones reach it. Ids
 * past a million (128 KB of bitmap) go to a set instead, so a deployment
 * whose ids grew sparse cannot make every code cost megabytes.
 */
export class AckedCode {
  #users = EMPTY;
  #farUsers: Set<number> | undefined;

  constructor(
    readonly id: number,
    readonly publishedAtMs: number,
    readonly expiresAtMs: number | null,
    /** The history ring's entry while the code is held: its `revoked` is kept up to date by the hub. */
    readonly held: HeldCode | undefined,
    public revoked: boolean,
  ) {}

  static of(held: HeldCode): AckedCode {
    const { code } = held;
    return new AckedCode(code.id, Date.parse(code.publishedAt), code.expiresAt === null ? null : Date.parse(code.expiresAt), held, held.revoked);
  }

  get isRevoked(): boolean {
    return this.revoked || this.held?.revoked === true;
  }

  hasAcked(userId: number): boolean {
    if (userId >= FAR_USER_ID) return this.#farUsers?.has(userId) === true;
    const byte = userId >> 3;
    return byte < this.#users.length && ((this.#users[byte] as number) & (1 << (userId & 7))) !== 0;
  }

  markAcked(userId: number): void {
    if (userId >= FAR_USER_ID) {
      (this.#farUsers ??= new Set()).add(userId);
      return;
    }
    const byte = userId >> 3;
    if (byte >= this.#users.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#users.length * 2, 16));
      grown.set(this.#users);
      this.#users = grown;
    }
    this.#users[byte] = (this.#users[byte] as number) | (1 << (userId & 7));
  }

}

const EMPTY = new Uint8Array(0);
const FAR_USER_ID = 1 << 20;
