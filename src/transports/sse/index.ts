export { SseTransport, type SseOptions } from './sse-transport.js';
