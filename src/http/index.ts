export { buildHttpServer, type HttpServerParts } from './server.js';
export { redactUrl } from './auth.js';
