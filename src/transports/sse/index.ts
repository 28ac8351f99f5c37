export { sseRoutes, type SseOptions } from './sse-routes.js';
