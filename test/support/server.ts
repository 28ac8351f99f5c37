import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { startServer, type RunningServer } from '../../src/app.js';
import type { MemoryBus } from '../../src/broker/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createStoreDatabase, type StoreDatabase, type StoreKind } from './stores.js';

export { STORE_KINDS, createStoreDatabase, type StoreDatabase, type StoreKind } from './stores.js';

export const ADMIN_TOKEN = 'cc_test-admin-token-0123456789abcdefghijklmnopq';

export interface TestServer {
  readonly url: string;
  readonly server: RunningServer;
  readonly dir: string;
  /** The store this server runs on. */
  readonly store: StoreKind;
  /** The `DATABASE_URL` it was started with. */
  readonly databaseUrl: string;
  /** The SQLite file; throws on PostgreSQL, where a test that opens the file has no meaning. */
  readonly databasePath: string;
  readonly adminToken: string;
  /** JSON request to the API; answers status, headers and parsed body. */
  api(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  /** Creates a user through the API and answers its first token. */
  createUser(username: string, role?: 'user' | 'admin'): Promise<{ id: number; token: string; tokenId: number }>;
  /** Publishes a code as the admin; throws unless it was accepted. */
  publish(code: string, extra?: Record<string, unknown>): Promise<{ id: number; audience: number }>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

export interface TestServerOptions {
  /** The working directory; on SQLite its codecast.db is the database, and a given dir outlives stop() (restart tests). */
  dir?: string;
  /** Replaces the silent logger (a test that reads the log passes a pino logger over its own stream). */
  logger?: Logger;
  /** The store to run on, each time a fresh database dropped in stop(); SQLite by default. */
  store?: StoreKind;
  /**
   * A database the caller made with `createStoreDatabase` and drops itself,
   * for several servers in turn on one database (restart tests). Its store
   * wins over `store`.
   */
  database?: StoreDatabase;
  /** The in-process bus several nodes of one deployment share. */
  bus?: MemoryBus;
}

/**
 * A real codecast on an ephemeral port over a fresh database: an SQLite file
 * by default, or a new PostgreSQL database with `{ store: 'postgres' }`.
 * `env` overrides settings as the environment would. Nodes given the same
 * database and `bus` form one deployment in this process.
 */
export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const store = options.database?.store ?? options.store ?? 'sqlite';
  // A database made here is this server's alone: dropped when it stops.
  const owned = options.database === undefined && store === 'postgres' ? await createStoreDatabase('postgres', 'server') : undefined;
  const database = options.database ?? owned;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'codecast-test-'));
  const sqlitePath = database === undefined ? join(dir, 'codecast.db') : database.store === 'sqlite' ? database.path : undefined;
  const databaseUrl = env.DATABASE_URL ?? database?.url ?? `sqlite:${sqlitePath}`;
  const cleanUp = async (): Promise<void> => {
    await owned?.drop();
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  };
  let server: RunningServer;
  try {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      CODECAST_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
      DATABASE_URL: databaseUrl,
    });
    server = await startServer(config, {
      logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      ...(options.bus ? { bus: options.bus } : {}),
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const url = server.url;

  const api: TestServer['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed };
  };

  let stopped = false;
  return {
    url,
    server,
    dir,
    store,
    databaseUrl,
    get databasePath(): string {
      if (sqlitePath === undefined) throw new Error(`databasePath is an SQLite file; this server runs on ${store} (${databaseUrl})`);
      return sqlitePath;
    },
    adminToken: ADMIN_TOKEN,
    api,
    async createUser(username, role = 'user') {
      const res = await api('POST', '/api/v1/users', { body: { username, role } });
      if (res.status !== 201) throw new Error(`creating ${username}: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.user.id, token: res.body.token.token, tokenId: res.body.token.id };
    },
    async publish(code, extra = {}) {
      const res = await api('POST', '/api/v1/codes', { body: { code, ...extra } });
      if (res.status !== 201) throw new Error(`publishing ${code}: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.code.id, audience: res.body.audience.connections };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.stop();
      } finally {
        await cleanUp();
      }
    },
  };
}
