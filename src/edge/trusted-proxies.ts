import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';
import { clientAddress } from './client-address.js';

/** proxy-addr's trust test: is the address at this hop (0 the peer) a trusted proxy. */
export type ProxyTrustTest = (address: string, hop: number) => boolean;

/**
 * The one rule for whom a request comes from, the same for the HTTP API,
 * SSE, WebSocket and Socket.IO: the TCP peer, unless the peer is a trusted
 * proxy, in which case `X-Forwarded-For` is read from the right, past every
 * trusted proxy, to the first address that is not one. An entry a client
 * wrote itself lies left of what its proxy appended, so it is never reached:
 * nobody spoofs their way out of a per-address budget. Without trusted
 * proxies the header is never read.
 *
 * Fastify gets the same test (`trustProxy`), so `request.ip` in the request
 * log names the same client the budgets charge.
 */
export class TrustedProxies {
  readonly #trust: ProxyTrustTest | undefined;

  /** @throws TypeError for an entry that is not an address, a CIDR or a named range (config has checked). */
  constructor(entries: readonly string[]) {
    this.#trust = entries.length === 0 ? undefined : proxyaddr.compile([...entries]);
  }

  /** Fastify's `trustProxy` option: the same test, or off. */
  get fastifyOption(): ProxyTrustTest | false {
    return this.#trust ?? false;
  }

  /** Whether a connection's peer is a trusted proxy: its client is known only once a request names it. */
  isProxy(peer: string | undefined): boolean {
    return this.#trust !== undefined && peer !== undefined && this.#trust(peer, 0);
  }

  /** The client a request is charged to, as a budget key (`clientAddress`: IPv4 bare, IPv6 its /64). */
  clientOf(request: IncomingMessage): string {
    if (this.#trust === undefined) return clientAddress(request.socket.remoteAddress);
    return clientAddress(proxyaddr(request, this.#trust));
  }
}
