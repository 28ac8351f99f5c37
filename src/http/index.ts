export { buildHttpServer, type HttpServerParts } from './server.js';
export { redactUrl, serializeRequest } from './auth.js';
export { trackUnusedSockets } from './unused-sockets.js';
export { routeUpgrades, type UpgradeHandler } from './upgrade-router.js';
