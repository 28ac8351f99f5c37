// What the HTTP API and the transports share at the edge of the process:
// error mapping, request auth, whom a request comes from (trusted proxies),
// which pages on other origins may come in (allowed origins), the pending
// budget and its socket guard, raw answers on sockets, upgrade routing, and
// the transport contract.
export { toCodecastError } from './error-mapping.js';
export { redactUrl, serializeRequest } from './request-log.js';
export { authHooks, principalOf, type Authenticate, type AuthHook, type AuthHooks } from './request-auth.js';
export { clientAddress } from './client-address.js';
export { TrustedProxies, type ProxyTrustTest } from './trusted-proxies.js';
export { AllowedOrigins, type CorsOptions } from './allowed-origins.js';
export { PendingBudget, type PendingLimits, type PendingStats, type PendingTicket } from './pending-budget.js';
export { SocketGuard } from './socket-guard.js';
export { refuseSocket, writeRawError } from './raw-answers.js';
export { releaseUpgradeSocket, type UpgradeHandler } from './upgrade-router.js';
export type { EdgeMount, Transport, TransportParts } from './transport.js';
export { streamAdmission, type UserPlaces } from './stream-admission.js';
export { API_PREFIX, TransportMounts } from './transport-mounts.js';
