import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { Acknowledger, Hub, InboundBudget, TransportName } from '../hub/index.js';
import type { AllowedOrigins } from './allowed-origins.js';
import type { Authenticate } from './request-auth.js';
import type { UpgradeHandler } from './upgrade-router.js';

/**
 * What every transport is given, the same for each: the hub it hands its
 * connections to, who authenticates a token, who records acks, the inbound
 * budget of each connection, who hears that a socket has authenticated
 * (it then leaves the pending budget), whom a request comes from, and which
 * pages on other origins may connect. A transport takes what it uses.
 */
export interface TransportParts {
  readonly hub: Hub;
  /** Authenticates a request that opens no stream (an SSE pong). */
  readonly authenticator: Authenticate;
  /**
   * Authenticates a client opening a stream and, in a cluster, takes its
   * user's place across the deployment (`streamAdmission`).
   */
  readonly admission: Authenticate;
  readonly acknowledger: Acknowledger;
  /** Messages of any kind each connection may send. */
  readonly inboundBudget: InboundBudget;
  readonly authenticated: (socket: Duplex | undefined) => void;
  /** The client a request is charged to: `TrustedProxies.clientOf`, one rule for every transport. */
  readonly clientOf: (request: IncomingMessage) => string;
  /** Pages on other origins that may connect, and the CORS Socket.IO answers them with. */
  readonly origins: Pick<AllowedOrigins, 'refusal' | 'cors'>;
}

/**
 * Where a transport plugs into the one HTTP server. Each transport uses what
 * its protocol needs: SSE serves routes, WebSocket claims an upgrade path,
 * Socket.IO attaches its own engine to the server and keeps its upgrades.
 */
export interface EdgeMount {
  readonly server: HttpServer;
  /** Serves a Fastify plugin's routes under the API prefix (`/api/v1`). */
  routes(plugin: FastifyPluginAsync): Promise<void>;
  /** Sends the HTTP upgrades of exactly this path to `handler`. */
  upgrade(path: string, handler: UpgradeHandler): void;
  /** Leaves upgrades under this prefix to a library that listens itself (engine.io). */
  delegateUpgrades(prefix: string): void;
}

/**
 * One way subscribers reach the hub (SSE, WebSocket, Socket.IO). Every
 * transport is built from `TransportParts` and its own options, mounted on
 * the edge once before the server listens, and closed once on stop; its
 * connections are the hub's to close (`Hub.shutdown`).
 */
export interface Transport {
  readonly name: TransportName;
  mount(edge: EdgeMount): Promise<void>;
  /** Stops taking connections and lets go of what the transport holds. Idempotent. */
  close(): void;
}
