import { CodecastError, type Principal } from '../domain/index.js';
import type { Store } from '../store/index.js';

export interface AckResult {
  readonly id: number;
  /** False when this user had acked the code before: acks count once per user. */
  readonly first: boolean;
  readonly latencyMs: number;
}

/** Records a user's acknowledgement of a code, from any transport. */
export class Acknowledger {
  constructor(private readonly store: Store) {}

  async ack(codeId: number, principal: Principal): Promise<AckResult> {
    const code = await this.store.codes.byId(codeId);
    if (!code) throw new CodecastError('code_not_found');
    const now = new Date();
    const latencyMs = Math.max(0, now.getTime() - Date.parse(code.publishedAt));
    const first = await this.store.codes.ack(codeId, principal.user.id, now, latencyMs);
    return { id: codeId, first, latencyMs };
  }
}
