export { buildHttpServer, type HttpServerParts } from './server.js';
export { redactUrl, serializeRequest } from './auth.js';
export { PendingBudget, clientAddress, type PendingLimits, type PendingStats, type PendingTicket } from './pending-budget.js';
export { SocketGuard, refuseSocket } from './socket-guard.js';
export { routeUpgrades, type UpgradeHandler } from './upgrade-router.js';
