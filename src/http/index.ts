export { buildHttpServer, type HttpServerParts } from './server.js';
export { readServerStats, type ServerStats, type StatsSources } from './server-stats.js';
