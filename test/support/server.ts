import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { startServer, type RunningServer } from '../../src/app.js';
import type { MemoryBus } from '../../src/broker/index.js';
import { loadConfig } from '../../src/config/index.js';

export const ADMIN_TOKEN = 'cc_test-admin-token-0123456789abcdefghijklmnopq';

export interface TestServer {
  readonly url: string;
  readonly server: RunningServer;
  readonly dir: string;
  readonly databasePath: string;
  readonly adminToken: string;
  /** JSON request to the API; answers status, headers and parsed body. */
  api(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
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

/**
 * A real codecast on an ephemeral port over a fresh SQLite file. `env`
 * overrides settings as the environment would; `logger` replaces the silent
 * one (a test that reads the log passes a pino logger over its own stream).
 * Nodes given the same `dir` and `bus` form one deployment in this process.
 */
export async function startTestServer(env: Record<string, string> = {}, options: { dir?: string; logger?: Logger; bus?: MemoryBus } = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'codecast-test-'));
  const databasePath = join(dir, 'codecast.db');
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${databasePath}`,
    LOG_LEVEL: 'silent',
    CODECAST_ADMIN_TOKEN: ADMIN_TOKEN,
    ...env,
  });
  const server = await startServer(config, {
    logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...(options.bus ? { bus: options.bus } : {}),
  });
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
    databasePath,
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
      await server.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
