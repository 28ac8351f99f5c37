export { UserCache, type UserCacheOptions, type UserCacheStats } from './user-cache.js';
export type {
  AccessChangeFeed,
  AccessWrites,
  FirstAdminStore,
  JwtUserStore,
  PrincipalLoader,
  SubjectLoader,
  UserDirectory,
  UserReads,
} from './ports.js';
export { Authenticator } from './authenticator.js';
export { UserAdmin, type AccessEnforcer, type IssuedToken, type Actor } from './user-admin.js';
export { AuthWatcher } from './auth-watcher.js';
export { ensureFirstAdmin, type BootstrapResult } from './bootstrap.js';
export { JwtVerifier, type JwtOptions, type JwtOutcome, type JwtVerifierStats, type VerifiedJwt } from './jwt-verifier.js';
export { JwtUsers } from './jwt-users.js';
