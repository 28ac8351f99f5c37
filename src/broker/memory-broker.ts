import type { Broker, BrokerHealth, BrokerMessage, BrokerNode } from './broker.js';

type BusListener = (message: BrokerMessage) => void;

/** Joins the memory brokers of several nodes living in one process. */
export class MemoryBus {
  readonly #listeners = new Set<BusListener>();

  join(listener: BusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  send(message: BrokerMessage): void {
    for (const listener of this.#listeners) listener(message);
  }
}

/**
 * The broker of a single process, or of nodes sharing a `MemoryBus`. It
 * meets the contract in broker.ts by construction: delivery is synchronous
 * and in publish order, to every node the sender included, and nothing is
 * ever lost, so it never needs `catchUp`.
 */
export class MemoryBroker implements Broker {
  readonly driver = 'memory' as const;
  #leave: (() => void) | undefined;

  constructor(private readonly bus: MemoryBus = new MemoryBus()) {}

  health(): BrokerHealth {
    return { ok: true };
  }

  async start(node: BrokerNode): Promise<void> {
    this.#leave = this.bus.join((message) => node.deliver(message));
  }

  async publish(message: BrokerMessage): Promise<void> {
    this.bus.send(message);
  }

  async stop(): Promise<void> {
    this.#leave?.();
    this.#leave = undefined;
  }
}
