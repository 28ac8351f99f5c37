import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { EdgeMount } from './transport.js';
import { routeUpgrades, type UpgradeHandler } from './upgrade-router.js';

/** Where the API lives; every transport's routes are served under it. */
export const API_PREFIX = '/api/v1';

/**
 * The edge every transport is mounted on: the Fastify app and its HTTP
 * server. Upgrade paths are gathered as transports mount, then routed by
 * one listener (`routeUpgrades`), which answers any other upgrade 404.
 */
export class TransportMounts implements EdgeMount {
  readonly #app: FastifyInstance;
  readonly #upgrades: Record<string, UpgradeHandler> = {};
  readonly #delegated: string[] = [];
  #routing = false;

  constructor(app: FastifyInstance) {
    this.#app = app;
  }

  get server() {
    return this.#app.server;
  }

  async routes(plugin: FastifyPluginAsync): Promise<void> {
    await this.#app.register(plugin, { prefix: API_PREFIX });
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    if (this.#routing) throw new Error('upgrades are routed already: mount every transport first');
    this.#upgrades[path] = handler;
  }

  delegateUpgrades(prefix: string): void {
    if (this.#routing) throw new Error('upgrades are routed already: mount every transport first');
    this.#delegated.push(prefix);
  }

  /** Starts routing upgrades, once every transport is mounted. */
  routeUpgrades(): void {
    this.#routing = true;
    routeUpgrades(this.#app.server, this.#upgrades, this.#delegated);
  }
}
