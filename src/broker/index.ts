export { BROKER_KINDS, type Broker, type BrokerKind, type BrokerMessage, type BrokerNode } from './broker.js';
export { createBroker, type BrokerSetup } from './broker-factory.js';
export { MemoryBroker, MemoryBus } from './memory-broker.js';
