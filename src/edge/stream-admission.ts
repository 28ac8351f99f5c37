import type { Hub } from '../hub/index.js';
import type { Authenticate } from './request-auth.js';

/** Places for users' connections counted over the whole deployment (a cluster's `UserSlots`). */
export interface UserPlaces {
  /**
   * Takes a place for a new connection of the user, to be held by the
   * connection once it attaches.
   * @throws CodecastError too_many_connections_for_user.
   */
  take(userId: number): Promise<void>;
}

/**
 * What every transport opens a stream through: the token authenticated,
 * then, in a cluster, the user's place taken across the deployment — one
 * step all three transports already await, so the cluster's check is in one
 * place and answers as the hub's own cap does (429
 * `too_many_connections_for_user`). The hub's checks run first, so a
 * connection this process refuses anyway (shutting down, full, cooling off,
 * the user's local cap) takes no place in Redis. The transport still calls
 * `Hub.admit` and `attach` in one tick afterwards, as without a cluster.
 *
 * One process alone has no places to take: the authenticator is answered
 * as it is, and opening a stream costs nothing more than before.
 */
export function streamAdmission(authenticator: Authenticate, hub: Pick<Hub, 'admit'>, places: UserPlaces | undefined): Authenticate {
  if (places === undefined) return authenticator;
  return {
    async authenticate(token, clientAddress) {
      const principal = await authenticator.authenticate(token, clientAddress);
      hub.admit(principal.user.id);
      await places.take(principal.user.id);
      return principal;
    },
  };
}
