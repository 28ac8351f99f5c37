import { BROKER_KINDS, type Broker, type BrokerKind } from './broker.js';
import { MemoryBroker, type MemoryBus } from './memory-broker.js';

export interface BrokerSetup {
  /** This node's id, carried by every message it publishes. */
  readonly node: string;
  /** For `memory`: the bus that joins nodes living in one process (tests of several nodes). */
  readonly bus?: MemoryBus;
}

/**
 * Makes the broker of the driver the config chose, once at start. The kind
 * is already parsed; one that is not known here still stops the start
 * rather than falling back to another driver.
 */
export function createBroker(kind: BrokerKind, setup: BrokerSetup): Broker {
  switch (kind) {
    case 'memory':
      return new MemoryBroker(setup.node, setup.bus);
    default: {
      const unknown: never = kind;
      throw new Error(`unknown broker driver "${String(unknown)}": the accepted ones are ${BROKER_KINDS.join(', ')}`);
    }
  }
}
