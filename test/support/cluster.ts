/**
 * Several real `codecast serve` processes forming one deployment: the same
 * DATABASE_URL and REDIS_URL, each its own port, one admin token every node
 * and the test know. A node can be stopped, killed, frozen (SIGSTOP) and
 * thawed, and started again on its port; its output is kept across restarts
 * for failure messages.
 */
import { createClient } from '@redis/client';
import { freePort, request, spawnCli, type Spawned } from './cli-helpers.js';

export const CLUSTER_ADMIN_TOKEN = 'cc_cluster-admin-token-0123456789abcdefghijkl';

/** running: serving; frozen: SIGSTOPped; down: exited (stopped or killed). */
export type NodeState = 'running' | 'frozen' | 'down';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One codecast process of the cluster, on a port that stays its own across restarts. */
export class ClusterNode {
  #process: Spawned | undefined;
  /** The output of earlier runs of this node (before a restart). */
  #earlier = '';
  #frozen = false;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get state(): NodeState {
    if (this.#process === undefined || this.#process.exit !== undefined) return 'down';
    return this.#frozen ? 'frozen' : 'running';
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Starts the process and waits for its "listening" line; throws with its output if it exits first. */
  async start(): Promise<void> {
    if (this.state !== 'down') throw new Error(`${this.name} is already ${this.state}`);
    if (this.#process) this.#earlier += this.#output(this.#process, 'an earlier run');
    const spawned = spawnCli(['serve'], { ...this.env, PORT: String(this.port) });
    this.#process = spawned;
    this.#frozen = false;
    try {
      await spawned.waitForOutput(/listening on \S+:\d+\s*$/m, READY_TIMEOUT_MS);
    } catch (error) {
      spawned.kill();
      throw new Error(`${this.name} did not start: ${(error as Error).message}`);
    }
  }

  /** Polls /readyz until it answers 200; fails with the last answer and the log tail. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      try {
        const answer = await request(`${this.url}/readyz`);
        if (answer.status === 200) return;
        last = `${answer.status} ${JSON.stringify(answer.body)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${this.name} not ready within ${timeoutMs} ms: last /readyz ${last}\n${this.logTail()}`);
      await sleep(100);
    }
  }

  /** Sends `signal` and, unless it is SIGSTOP/SIGCONT, waits for the exit. */
  async signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const spawned = this.#process;
    if (!spawned || spawned.exit) return;
    // A frozen process only acts on SIGTERM once it runs again; SIGKILL needs no thaw.
    if (this.#frozen && signal === 'SIGTERM') this.thaw();
    spawned.kill(signal);
    this.#frozen = false;
    await spawned.waitExit(STOP_TIMEOUT_MS, `${this.name} to exit on ${signal}`);
  }

  /** SIGKILL: the process dies at once, its connections cut without a word. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGTERM: a graceful stop (subscribers are told `shutdown`). */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGSTOP: the process keeps its sockets open and does nothing, as a stalled host would. */
  freeze(): void {
    const pid = this.#process?.pid;
    if (pid === undefined || this.state !== 'running') throw new Error(`cannot freeze ${this.name}: it is ${this.state}`);
    process.kill(pid, 'SIGSTOP');
    this.#frozen = true;
  }

  thaw(): void {
    const pid = this.#process?.pid;
    if (pid !== undefined && this.#frozen) process.kill(pid, 'SIGCONT');
    this.#frozen = false;
  }

  /** Stops (SIGTERM) if running, then starts again on the same port and waits until ready. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
    await this.waitReady();
  }

  /** The whole output of every run, for searching. */
  get log(): string {
    return this.#earlier + (this.#process ? this.#output(this.#process, 'the current run') : '');
  }

  /** The last lines of the node's output (every run), for failure messages. */
  logTail(lines = 25): string {
    const text = this.log.trimEnd().split('\n').slice(-lines).join('\n');
    return `--- ${this.name} (${this.url}, ${this.state}) last ${lines} lines ---\n${text}`;
  }

  #output(spawned: Spawned, run: string): string {
    const exit = spawned.exit ? ` exited ${JSON.stringify(spawned.exit)}` : '';
    return `[${run}, pid ${spawned.pid}${exit}]\n${spawned.stdout}${spawned.stderr ? `[stderr]\n${spawned.stderr}` : ''}`;
  }
}

export interface ClusterOptions {
  /** How many nodes (3). */
  readonly nodes?: number;
  readonly databaseUrl: string;
  /** Left out: each node runs the in-memory broker (nodes then share no codes). */
  readonly redisUrl?: string;
  /** CODECAST_REDIS_PREFIX: a test on the shared Redis passes its own. */
  readonly redisPrefix?: string;
  /** More settings for every node. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Settings of one node over the others' (its own REDIS_URL through a proxy, say). */
  readonly nodeEnv?: (index: number) => Readonly<Record<string, string | undefined>>;
}

/** N nodes of one deployment, started and ready. */
export class Cluster {
  readonly adminToken = CLUSTER_ADMIN_TOKEN;

  private constructor(
    readonly nodes: readonly ClusterNode[],
    readonly options: ClusterOptions,
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const count = options.nodes ?? 3;
    const env: Record<string, string | undefined> = {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: options.databaseUrl,
      CODECAST_ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN,
      // Every test client comes from 127.0.0.1 and may reconnect often.
      CODECAST_MAX_PENDING_PER_ADDRESS: '5000',
      CODECAST_AUTH_FAILURES_PER_MINUTE: '100000',
      ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
      ...(options.redisPrefix === undefined ? {} : { CODECAST_REDIS_PREFIX: options.redisPrefix }),
      ...options.env,
    };
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < count; i++) nodes.push(new ClusterNode(`node${i}`, await freePort(), { ...env, ...options.nodeEnv?.(i) }));
    const cluster = new Cluster(nodes, options);
    try {
      // The first migrates the database and creates the admin; the rest join it.
      await nodes[0]!.start();
      await Promise.all(nodes.slice(1).map((node) => node.start()));
      await cluster.waitReady();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  node(index: number): ClusterNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`no node ${index} (the cluster has ${this.nodes.length})`);
    return node;
  }

  /** Indexes of the nodes that are running (not frozen, not down). */
  running(): number[] {
    return this.nodes.flatMap((node, index) => (node.state === 'running' ? [index] : []));
  }

  /** Waits until every running node answers /readyz 200. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await Promise.all(this.nodes.filter((node) => node.state === 'running').map((node) => node.waitReady(timeoutMs)));
  }

  /** JSON request to a node as the admin (or `token`); answers status, Retry-After and the parsed body. */
  async api(
    index: number,
    method: string,
    path: string,
    options: { body?: unknown; token?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; retryAfter: string | null; body: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? this.adminToken}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.node(index).url}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
  }

  /** Creates a user through node 0 and answers its token. */
  async createUser(username: string): Promise<string> {
    const answer = await this.api(0, 'POST', '/api/v1/users', { body: { username, role: 'user' } });
    if (answer.status !== 201) throw new Error(`creating ${username}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.token.token as string;
  }

  /** The tail of every node's log, for failure messages. */
  logTails(lines = 25): string {
    return this.nodes.map((node) => node.logTail(lines)).join('\n');
  }

  /** SIGKILLs every node still up (thawing frozen ones first). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill().catch(() => undefined)));
  }
}

/** Deletes the keys under `prefix` on a shared Redis, so a test leaves nothing behind there. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}

/**
 * Runs `setUp` (starting or reaching a server the test needs). When it
 * fails, under CI=true that is the test's failure; elsewhere the test is
 * skipped with the reason, said loudly, so a machine without redis-server
 * or PostgreSQL binaries can still run the rest.
 */
export async function serverOrSkip<T>(
  context: { skip(message?: string): void },
  what: string,
  setUp: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await setUp();
  } catch (error) {
    const message = `${what} could not be started or reached: ${(error as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${message}\nUnder CI=true this is a failure, not a skip.`);
    console.error(`!! SKIPPED, this cluster fault was NOT tested: ${message}`);
    context.skip(`${message} (SKIPPED: not tested)`);
    return undefined;
  }
}
