export { buildHttpServer, type HttpServerParts } from './server.js';
