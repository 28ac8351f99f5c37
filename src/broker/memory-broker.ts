import type { Broker, BrokerHandler, BrokerMessage } from './broker.js';

/** Joins the memory brokers of several nodes living in one process. */
export class MemoryBus {
  readonly #handlers = new Set<BrokerHandler>();

  join(handler: BrokerHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  send(message: BrokerMessage): void {
    for (const handler of this.#handlers) handler(message);
  }
}

/** The broker of a single process, or of nodes sharing a `MemoryBus`. */
export class MemoryBroker implements Broker {
  readonly driver = 'memory';
  #leave: (() => void) | undefined;

  constructor(
    private readonly node: string,
    private readonly bus: MemoryBus = new MemoryBus(),
  ) {}

  async start(onMessage: BrokerHandler): Promise<void> {
    this.#leave = this.bus.join((message) => {
      if (message.node !== this.node) onMessage(message);
    });
  }

  async publish(message: BrokerMessage): Promise<void> {
    this.bus.send(message);
  }

  async stop(): Promise<void> {
    this.#leave?.();
    this.#leave = undefined;
  }
}
