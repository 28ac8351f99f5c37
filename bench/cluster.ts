// `--nodes N`: codecast as N node processes on this machine sharing one
// PostgreSQL database (fresh, dropped after) and one Redis (the shared
// server, under a key prefix of the run's own, deleted after). Subscribers
// are spread over the nodes; every publish goes to node 0.
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { BackendProbe, type BackendSample } from './backend-work.js';
import type { SubscriberSpec, Transport } from './protocol.js';
import {
  baseEnv,
  CodecastTarget,
  freshPostgresDatabase,
  REPO,
  spawnServer,
  stopProcess,
  type PublishAnswer,
  type ServerOptions,
  type Target,
} from './targets.js';

/** The Redis a cluster run shares its codes through: CODECAST_BENCH_REDIS_URL, the test run's, or the machine's own. */
export const BENCH_REDIS_URL = process.env.CODECAST_BENCH_REDIS_URL || process.env.CODECAST_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

export interface ClusterOptions extends ServerOptions {
  readonly nodes: number;
  /** Connections each node admits at most. */
  readonly maxConnections: number;
  readonly perUser: number;
  /** Join the nodes through Redis (`REDIS_URL`); without it each node has its own in-memory broker. */
  readonly redis: boolean;
  /** Run the codecast built in this folder. */
  readonly dir?: string;
}

/**
 * The node a subscriber goes to: consecutive runs of three subscribers (one
 * of each transport in a mix) in turn, so every node holds every transport
 * alike whatever N is.
 */
export function nodeOf(index: number, nodes: number): number {
  return Math.floor(index / 3) % nodes;
}

/** The name a cluster goes by in the tables. */
export function clusterName(nodes: number, redis: boolean): string {
  if (!redis) return `codecast-pg-x${nodes}-no-redis`;
  return nodes === 1 ? 'codecast-pg-redis' : `codecast-${nodes}-nodes`;
}

/** N codecast nodes seen as one server; node 0 takes the publishes and answers the admin requests. */
export class ClusterTarget implements Target {
  readonly transports: readonly Transport[] = ['sse', 'ws', 'socketio'];
  readonly #nodes: readonly CodecastTarget[];
  readonly #probe: BackendProbe;
  readonly #onStop: () => Promise<string | undefined>;

  constructor(
    readonly name: string,
    /** The run's own Redis key prefix (CODECAST_REDIS_PREFIX); its keys are deleted at the stop. */
    readonly redisPrefix: string,
    nodes: readonly CodecastTarget[],
    probe: BackendProbe,
    onStop: () => Promise<string | undefined>,
  ) {
    this.#nodes = nodes;
    this.#probe = probe;
    this.#onStop = onStop;
  }

  get #first(): CodecastTarget {
    return this.#nodes[0] as CodecastTarget;
  }

  get nodeCount(): number {
    return this.#nodes.length;
  }

  get host(): string {
    return this.#first.host;
  }

  get port(): number {
    return this.#first.port;
  }

  get pid(): number | undefined {
    return this.#first.pid;
  }

  get pids(): readonly number[] {
    return this.#nodes.flatMap((node) => node.pids);
  }

  prepare(count: number): Promise<void> {
    // One database: the users node 0 makes are every node's.
    return this.#first.prepare(count);
  }

  subscriber(transport: Transport, index: number): SubscriberSpec {
    const node = nodeOf(index, this.#nodes.length);
    return { ...this.#first.subscriber(transport, index), port: (this.#nodes[node] as CodecastTarget).port, node };
  }

  publish(k: number, startedAt?: (t: number) => void): Promise<PublishAnswer> {
    return this.#first.publish(k, startedAt);
  }

  /** Node 0's stats, with `closes` summed over the nodes and every node's own under `nodes`. */
  async stats(): Promise<Record<string, unknown> | undefined> {
    const all = await Promise.all(this.#nodes.map((node) => node.stats().catch(() => undefined)));
    const first = all[0];
    if (!first) return undefined;
    const closes: Record<string, number> = {};
    for (const stats of all) {
      for (const [reason, n] of Object.entries((stats?.closes ?? {}) as Record<string, number>)) closes[reason] = (closes[reason] ?? 0) + n;
    }
    return { ...first, closes, nodes: all };
  }

  /** A full GC in every node; the heap in use summed. */
  async collectGarbage(): Promise<{ heapUsedKb: number } | undefined> {
    const all = await Promise.all(this.#nodes.map((node) => node.collectGarbage()));
    if (all.some((x) => x === undefined)) return undefined;
    return { heapUsedKb: all.reduce((sum, x) => sum + (x?.heapUsedKb ?? 0), 0) };
  }

  inspectorUrl(): string | undefined {
    return this.#first.inspectorUrl();
  }

  backendSample(): Promise<BackendSample> {
    return this.#probe.sample();
  }

  /** Stops every node; answers node 0's CPU profile, if asked for one. */
  stop(): Promise<string | undefined> {
    return this.#onStop();
  }
}

/** Deletes every key under `prefix` on the shared Redis: the run's own, nothing else. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = (await client.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await client.sendCommand(['UNLINK', ...keys]);
    } while (cursor !== '0');
  } finally {
    await client.quit().catch(() => undefined);
  }
}

/**
 * Starts N nodes of `node dist/cli/main.js serve` on ports of their own:
 * node 0 first (it migrates the fresh database and makes the admin), then
 * the others, each with the same DATABASE_URL, REDIS_URL, key prefix and
 * admin token.
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterTarget> {
  const postgres = await freshPostgresDatabase();
  const prefix = `codecast-bench-${process.pid}-${Date.now().toString(36)}`;
  const adminToken = `cc_bench-admin-${Math.random().toString(36).slice(2)}-0123456789abcdef`;
  const env = {
    ...baseEnv(),
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: postgres.url,
    ...(options.redis ? { REDIS_URL: BENCH_REDIS_URL, CODECAST_REDIS_PREFIX: prefix } : {}),
    CODECAST_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'warn',
    CODECAST_MAX_CONNECTIONS: String(options.maxConnections),
    CODECAST_MAX_CONNECTIONS_PER_USER: String(options.perUser),
    ...options.env,
  };
  const name = clusterName(options.nodes, options.redis);
  const main = join(options.dir ?? REPO, 'dist', 'cli', 'main.js');
  const servers: Awaited<ReturnType<typeof spawnServer>>[] = [];
  const nodes: CodecastTarget[] = [];
  let probe: BackendProbe | undefined;
  const stop = async () => {
    await Promise.all(servers.map((server) => stopProcess(server.child)));
    await probe?.close();
    await postgres.drop();
    if (options.redis) await deleteKeys(BENCH_REDIS_URL, prefix);
    return servers[0]?.profile();
  };
  try {
    for (let i = 0; i < options.nodes; i++) {
      const label = options.nodes === 1 ? name : `${name}#${i}`;
      const server = await spawnServer(label, [main, 'serve'], env, options.profileDir);
      servers.push(server);
      nodes.push(
        new CodecastTarget(
          label,
          server.host,
          server.port,
          server.child.pid,
          adminToken,
          options.perUser,
          async () => undefined,
          server.inspector,
        ),
      );
    }
    probe = await BackendProbe.open(options.redis ? BENCH_REDIS_URL : undefined, postgres.url);
  } catch (error) {
    await stop();
    throw error;
  }
  return new ClusterTarget(name, prefix, nodes, probe, stop);
}
