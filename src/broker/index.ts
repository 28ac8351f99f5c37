export {
  BROKER_KINDS,
  BrokerUnavailableError,
  type Broker,
  type BrokerHealth,
  type BrokerKind,
  type BrokerMessage,
  type BrokerNode,
} from './broker.js';
export { createBroker, type BrokerSetup } from './broker-factory.js';
export { MemoryBroker, MemoryBus } from './memory-broker.js';
export type { RedisBrokerEvents } from './redis-broker.js';
export { openRedisLink, type RedisLink, type RedisLinkEvents } from './redis-link.js';
