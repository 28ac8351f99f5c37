/**
 * Redis for tests: the shared server's URL, a probe, and a private server for
 * the runner (when none answers) and for tests that stop and start Redis.
 *
 * The shared server is `CODECAST_TEST_REDIS_URL` (scripts/run-tests.mjs sets
 * it, to the server it found or started), else 127.0.0.1:6379.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** The server tests that need Redis talk to. */
export const REDIS_TEST_URL = process.env.CODECAST_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** One command in RESP, the protocol's array of bulk strings. */
function resp(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** Whether `url` answers PING with PONG (after AUTH when the URL carries a password) within `timeoutMs`. */
export function redisAnswers(url: string, timeoutMs = 3_000): Promise<boolean> {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  const user = decodeURIComponent(parsed.username);
  const commands = [...(password ? [user ? ['AUTH', user, password] : ['AUTH', password]] : []), ['PING']];
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) });
    let answer = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write(commands.map(resp).join('')));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      const lines = answer.split('\r\n');
      // One reply line per command; the last one is PING's.
      if (lines.length > commands.length) done(lines[commands.length - 1] === '+PONG');
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

// Private servers still running, killed if the process exits without
// destroying them, so no test or run leaves a redis-server behind.
const running = new Set<PrivateRedis>();
process.once('exit', () => {
  for (const server of running) server.destroySync();
});

/**
 * A redis-server of the test's own on a free port of 127.0.0.1, in a
 * temporary directory, persisting nothing: stopping it loses its data, as a
 * Redis restarted empty would. The port stays the same across `stop()` and
 * `start()`.
 */
export class PrivateRedis {
  readonly dir: string;
  readonly #log: string;
  #port: number;
  #child: ChildProcess | undefined;
  #everStarted = false;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.#port = port;
    this.#log = join(dir, 'redis.log');
  }

  static async create(): Promise<PrivateRedis> {
    if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) {
      throw new Error('no redis-server: install it (apt-get install redis-server)');
    }
    return new PrivateRedis(mkdtempSync(join(tmpdir(), 'codecast-redis-')), await freePort());
  }

  get port(): number {
    return this.#port;
  }

  url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  get started(): boolean {
    return this.#child !== undefined;
  }

  /** Starts redis-server and waits until it answers PING; throws with its log if it does not. */
  async start(): Promise<void> {
    if (this.#child) return;
    for (let attempt = 1; ; attempt++) {
      const log = openSync(this.#log, 'a');
      const child = spawn(
        'redis-server',
        ['--port', String(this.#port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.dir],
        { cwd: this.dir, stdio: ['ignore', log, log] },
      );
      closeSync(log);
      let exited = false;
      child.once('exit', () => {
        exited = true;
      });
      this.#child = child;
      running.add(this);
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!exited && Date.now() < deadline && !(await redisAnswers(this.url(), 500))) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (!exited && (await redisAnswers(this.url(), 1_000))) break;
      await this.stop();
      // The port was taken since it was picked: another will do, before anyone knows this one.
      if (!this.#everStarted && attempt < 3 && /address already in use/i.test(this.log())) {
        this.#port = await freePort();
        continue;
      }
      throw new Error(`redis-server on port ${this.#port} did not come up within ${START_TIMEOUT_MS} ms\n${this.log()}`);
    }
    this.#everStarted = true;
  }

  /** SIGTERM, and SIGKILL if it has not exited in time. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    this.#child = undefined;
    running.delete(this);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.destroySync();
    }
  }

  /** What `destroy()` does, without waiting on the event loop: for process exit. */
  destroySync(): void {
    this.#child?.kill('SIGKILL');
    this.#child = undefined;
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of the server's log, for error messages. */
  log(lines = 30): string {
    try {
      const text = readFileSync(this.#log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return `--- redis log (${this.#log}) ---\n${text}`;
    } catch {
      return `--- no redis log at ${this.#log} ---`;
    }
  }
}
