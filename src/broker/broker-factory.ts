import type { BrokerTarget } from '../config/index.js';
import type { Broker } from './broker.js';
import { MemoryBroker, type MemoryBus } from './memory-broker.js';
import { RedisBroker, type RedisBrokerEvents } from './redis-broker.js';

export interface BrokerSetup {
  /** This node's id, carried by every message it publishes. */
  readonly node: string;
  /** For `memory`: the bus that joins nodes living in one process (tests of several nodes). */
  readonly bus?: MemoryBus;
  /** For `redis`: what the driver reports of its connection. */
  readonly events: RedisBrokerEvents;
}

/**
 * Makes the broker of the driver the config chose, once at start. A driver
 * that is not known here stops the start rather than falling back to
 * another one.
 */
export function createBroker(target: BrokerTarget, setup: BrokerSetup): Broker {
  switch (target.driver) {
    case 'memory':
      return new MemoryBroker(setup.bus);
    case 'redis':
      return new RedisBroker({ url: target.url, prefix: target.prefix, node: setup.node }, setup.events);
    default: {
      const unknown: never = target;
      throw new Error(`unknown broker driver "${String((unknown as { driver: unknown }).driver)}"`);
    }
  }
}
