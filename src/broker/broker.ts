import type { Code } from '../domain/index.js';

/**
 * What one process tells the others. Every message carries the sender's node
 * id, so a node can skip its own: it has already delivered locally.
 */
export type BrokerMessage =
  | { readonly type: 'code'; readonly node: string; readonly code: Code }
  | { readonly type: 'revoke'; readonly node: string; readonly id: number };

export type BrokerHandler = (message: BrokerMessage) => void;

/**
 * How a code reaches every process. A publishing node delivers to its own
 * connections first, then hands the message to the broker for the others.
 * Drivers: `memory` (one process, or several nodes in one process for tests).
 */
export interface Broker {
  readonly driver: string;
  start(onMessage: BrokerHandler): Promise<void>;
  publish(message: BrokerMessage): Promise<void>;
  stop(): Promise<void>;
}
