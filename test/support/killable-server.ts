// A codecast server in a process of its own (the built `codecast serve`) on
// an SQLite file that outlives it, so a test can SIGKILL it mid-stream and
// start it again on the same port and database; and a publisher that keeps
// publishing through the outage, recording what was accepted (201).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, startServe, type ServeProcess } from './cli-helpers.js';

const ADMIN_TOKEN = 'killable-server-admin-0123456789abcdef';

export class KillableServer {
  readonly adminToken = ADMIN_TOKEN;
  #serve: ServeProcess;
  readonly #env: Record<string, string>;
  readonly #dir: string;

  private constructor(serve: ServeProcess, env: Record<string, string>, dir: string) {
    this.#serve = serve;
    this.#env = env;
    this.#dir = dir;
  }

  /** Starts `codecast serve` on a free port and a fresh SQLite file; `env` adds settings. */
  static async start(env: Record<string, string> = {}): Promise<KillableServer> {
    const dir = mkdtempSync(join(tmpdir(), 'codecast-killable-'));
    const full = {
      DATABASE_URL: `sqlite:${join(dir, 'codecast.db')}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      CODECAST_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
    };
    try {
      return new KillableServer(await startServe(full), full, dir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get url(): string {
    return this.#serve.url;
  }

  get port(): number {
    return this.#serve.port;
  }

  /** SIGKILL: no shutdown event, no goodbye; its clients see their connections break. */
  async kill(): Promise<void> {
    this.#serve.process.kill('SIGKILL');
    await this.#serve.process.waitExit(10_000, 'the killed server to go');
  }

  /** Starts it again on the same port and database. */
  async restart(): Promise<void> {
    this.#serve = await startServe({ ...this.#env, PORT: String(this.port) });
  }

  /** Creates a user and answers its token. */
  async createUser(username: string): Promise<string> {
    const answer = await request(`${this.url}/api/v1/users`, { method: 'POST', token: ADMIN_TOKEN, body: { username } });
    if (answer.status !== 201) throw new Error(`creating ${username}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.token.token;
  }

  /** The ids of every live code the server holds, oldest first. */
  async codeIds(): Promise<number[]> {
    const answer = await request(`${this.url}/api/v1/codes?since=0&limit=1000`, { token: ADMIN_TOKEN });
    if (answer.status !== 200) throw new Error(`listing codes: ${answer.status}`);
    return answer.body.codes.map((code: { id: number }) => code.id);
  }

  async stop(): Promise<void> {
    this.#serve.process.kill('SIGTERM');
    await this.#serve.process.waitExit(10_000, 'the server to stop').catch(() => this.#serve.process.kill('SIGKILL'));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Publishes `PREFIX-n` every `intervalMs` until stopped, one request at a
 * time, whatever the server's state: a refused or failed request is not
 * retried (with no Idempotency-Key a retry could publish twice).
 */
export class PublishLoop {
  /** The ids the server accepted (201), in order. */
  readonly accepted: number[] = [];
  failed = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(server: KillableServer, prefix: string, intervalMs = 25) {
    this.#done = (async () => {
      for (let n = 1; this.#running; n++) {
        try {
          const answer = await request(`${server.url}/api/v1/codes`, {
            method: 'POST',
            token: server.adminToken,
            body: { code: `${prefix}-${n}` },
          });
          if (answer.status === 201) this.accepted.push(answer.body.code.id);
          else this.failed++;
        } catch {
          this.failed++;
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Waits until `count` codes in all were accepted. */
  async waitForAccepted(count: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.length < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} accepted publishes (have ${this.accepted.length})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}
