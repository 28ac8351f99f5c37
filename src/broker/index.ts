export type { Broker, BrokerMessage, BrokerHandler } from './broker.js';
export { MemoryBroker, MemoryBus } from './memory-broker.js';
