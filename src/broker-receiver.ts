import type { BrokerMessage, BrokerNode } from './broker/index.js';
import { publicCode } from './domain/index.js';
import type { HistoryRing, Hub, RuntimeSettings } from './hub/index.js';
import type { CodeRecord } from './store/index.js';
import type { AuthWatcher } from './users/index.js';

/** Codes read per statement while catching up. */
const CATCH_UP_PAGE = 500;

export interface BrokerReceiverParts {
  readonly hub: Hub;
  readonly history: HistoryRing;
  /** The stored codes, as catching up reads them. */
  readonly codes: {
    list(options: { since: number; limit: number; includeInactive: boolean; nowMs: number }): Promise<CodeRecord[]>;
  };
  readonly settings: RuntimeSettings;
  readonly access: Pick<AuthWatcher, 'apply' | 'poll'>;
  /** An action on a message failed (the database could not be read). */
  readonly failed: (error: unknown, message: BrokerMessage) => void;
}

/**
 * This node's side of the broker contract (broker/broker.ts): acts on what
 * other nodes publish, and catches up from the database when the driver
 * says messages may have been lost.
 */
export class BrokerReceiver implements BrokerNode {
  readonly #parts: BrokerReceiverParts;

  constructor(parts: BrokerReceiverParts) {
    this.#parts = parts;
  }

  deliver(message: BrokerMessage): void {
    const { hub, settings, access } = this.#parts;
    switch (message.type) {
      case 'code':
        // Already delivered (a catch-up got here first): a repeat is never
        // sent. One this node never had arrives late, out of order, rather
        // than not at all; issue 11's stream puts every node in one order.
        if (message.code.id <= hub.lastId && this.#parts.history.held(message.code.id)) return;
        hub.broadcastCode(message.code);
        return;
      case 'revoke':
        hub.revokeCode(message.id);
        return;
      case 'access': {
        const kind = message.tokenId === null ? 'user_changed' : 'token_revoked';
        access
          .apply({ kind, userId: message.userId, tokenId: message.tokenId })
          .catch((error: unknown) => this.#parts.failed(error, message));
        return;
      }
      case 'settings':
        settings.load().catch((error: unknown) => this.#parts.failed(error, message));
        return;
    }
  }

  /**
   * Re-reads what messages could have carried: live codes newer than any
   * this node holds, in id order; revokes of codes its history holds; access
   * changes; settings. A code revoked or expired before it could be
   * delivered is not delivered at all.
   */
  async catchUp(): Promise<void> {
    const { hub, history, codes, settings, access } = this.#parts;
    for (let since = hub.lastId; ; ) {
      const page = await codes.list({ since, limit: CATCH_UP_PAGE, includeInactive: false, nowMs: Date.now() });
      for (const record of page) if (record.id > hub.lastId) hub.broadcastCode(publicCode(record));
      if (page.length < CATCH_UP_PAGE) break;
      since = (page[page.length - 1] as CodeRecord).id;
    }
    const oldest = history.oldestId;
    if (oldest !== null) {
      const held = await codes.list({ since: oldest - 1, limit: history.size, includeInactive: true, nowMs: Date.now() });
      for (const record of held) {
        if (record.revokedAt !== null && history.held(record.id)?.revoked === false) hub.revokeCode(record.id);
      }
    }
    await access.poll();
    await settings.load();
  }
}
