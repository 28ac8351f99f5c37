import { CodecastError, type Principal } from '../domain/index.js';
import type { Store } from '../store/index.js';

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
}

const RECENT = 1000;

/** Records a user's acknowledgement of a code, from any transport. */
export class Acknowledger {
  readonly #recent: number[] = [];
  #next = 0;
  #total = 0;

  constructor(
    private readonly store: Store,
    private readonly onFirstAck: (latencyMs: number) => void = () => undefined,
  ) {}

  async ack(codeId: number, principal: Principal): Promise<AckResult> {
    const code = await this.store.codes.byId(codeId);
    if (!code) throw new CodecastError('code_not_found', `No code has the id ${codeId}.`);
    const now = new Date();
    const latencyMs = Math.max(0, now.getTime() - Date.parse(code.publishedAt));
    const first = await this.store.codes.ack(codeId, principal.user.id, now, latencyMs);
    if (first) this.#record(latencyMs);
    return { id: codeId, first, latencyMs };
  }

  #record(latencyMs: number): void {
    this.#total++;
    this.#recent[this.#next] = latencyMs;
    this.#next = (this.#next + 1) % RECENT;
    this.onFirstAck(latencyMs);
  }

  stats(): AckStats {
    const sorted = [...this.#recent].sort((a, b) => a - b);
    const at = (p: number) => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length, Math.ceil(p * sorted.length)) - 1] ?? null));
    return { total: this.#total, recentMedianMs: at(0.5), recentP99Ms: at(0.99) };
  }
}
