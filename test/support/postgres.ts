/**
 * PostgreSQL for tests: a fresh database per test server on the shared
 * server, and a private server for the tests that stop and start one.
 *
 * The shared server is `CODECAST_TEST_POSTGRES_URL` (scripts/run-tests.mjs
 * sets it, to the server it found or started), else the one our machines run
 * on 127.0.0.1:5432 with trust authentication. Tests never stop or
 * reconfigure it: each creates its own databases and drops them.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

/** The server tests create their databases on. */
export const POSTGRES_TEST_URL = process.env.CODECAST_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

// Bounds on every wait, so a server that does not come up fails the test
// with its log instead of hanging it until the runner's timeout.
const CONNECT_TIMEOUT_MS = 10_000;
const PG_CTL_TIMEOUT_SECONDS = 30;

/** A database of a test's own; `drop()` ends its sessions and removes it (twice is harmless). */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

let created = 0;

/** `url` with its database part replaced by `database`; the rest (user, host, query options) kept. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Runs `work` on one connection to `url`, then closes it. */
async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client whose server goes away emits 'error'; unheard, it would crash the test process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether a real `select 1` succeeds on `url` within `timeoutMs`. */
export async function postgresAnswers(url: string, timeoutMs = 3_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Creates a fresh, empty database on `serverUrl` (the shared test server by
 * default) named after `label`, this process and a counter, so concurrent
 * test files and runs never share one.
 */
export async function createTestDatabase(label: string, serverUrl = POSTGRES_TEST_URL): Promise<TestDatabase> {
  const slug =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 30) || 'db';
  const name = await withClient(serverUrl, async (client) => {
    for (;;) {
      const candidate = `codecast_${slug}_${process.pid}_${++created}`;
      try {
        await client.query(`create database ${quoteIdentifier(candidate)}`);
        return candidate;
      } catch (error) {
        // A leftover of an earlier run whose process had the same pid: not
        // ours to drop (it may be another machine's), so take the next name.
        if ((error as { code?: string }).code === '42P04') continue;
        throw new Error(`creating test database ${candidate} on ${redacted(serverUrl)}: ${(error as Error).message}`, { cause: error });
      }
    }
  });
  let dropped: Promise<void> | undefined;
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop() {
      dropped ??= dropDatabase(serverUrl, name);
      return dropped;
    },
  };
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, async (client) => {
    // A pool the test did not close, or a server that died with sessions
    // open, would otherwise keep the database in use and the drop refused.
    await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (;;) {
      try {
        await client.query(`drop database if exists ${quoteIdentifier(name)}`);
        return;
      } catch (error) {
        // 55006: still in use, by a session that connected after the terminate.
        if ((error as { code?: string }).code !== '55006' || Date.now() > deadline) throw error;
        await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });
}

/** The URL with its password hidden, for messages. */
export function redacted(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}

/**
 * The directory holding initdb and pg_ctl: `CODECAST_TEST_POSTGRES_BIN`,
 * else Debian's newest /usr/lib/postgresql/N/bin (kept out of PATH there),
 * else wherever PATH has initdb; undefined when there is none.
 */
export function findPostgresBinDir(): string | undefined {
  const fromEnv = process.env.CODECAST_TEST_POSTGRES_BIN;
  if (fromEnv) return fromEnv;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((version) => existsSync(join(debian, version, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  return path === '' ? undefined : path.slice(0, path.lastIndexOf('/'));
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` OS user. */
function asServerUser(command: string, args: readonly string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, [...args]];
}

/** Runs a server command from `cwd` (the server user may not enter the caller's directory). */
function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const [file, argv] = asServerUser(command, args);
  return new Promise((resolve) => {
    execFile(file, argv, { cwd, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}${error && !stderr ? error.message : ''}`.trim() });
    });
  });
}

// Private servers still running, stopped if the process exits without
// destroying them (a failed assertion before `after`, a runner's exit), so
// no test leaves a postmaster behind. Synchronous: 'exit' allows no waiting.
const running = new Set<PrivatePostgres>();
process.once('exit', () => {
  for (const server of running) server.destroySync();
});

/**
 * A PostgreSQL server of the test's own, for tests that stop and start the
 * database: initdb in a temporary directory, a free port on 127.0.0.1 only,
 * trust authentication, durability off for speed. The port stays the same
 * across `stop()` and `start()`, so clients can find it again.
 *
 * @example
 * const server = await PrivatePostgres.create();
 * await server.start();
 * const db = await createTestDatabase('outage', server.url());
 * await server.stop(); // … the database is down …
 * await server.start();
 * await db.drop();
 * await server.destroy();
 */
export class PrivatePostgres {
  readonly dir: string;
  readonly #bin: string;
  readonly #data: string;
  readonly #log: string;
  #port: number;
  #started = false;
  #everStarted = false;
  /** The processes `freeze()` stopped, postmaster first. */
  #frozen: number[] = [];

  private constructor(bin: string, dir: string, port: number) {
    this.#bin = bin;
    this.dir = dir;
    this.#port = port;
    this.#data = join(dir, 'data');
    this.#log = join(dir, 'server.log');
  }

  /** initdb in a fresh temporary directory; the server is not started yet. */
  static async create(): Promise<PrivatePostgres> {
    const bin = findPostgresBinDir();
    if (bin === undefined) {
      throw new Error(
        'no PostgreSQL server binaries (initdb, pg_ctl): install postgresql (apt-get install postgresql) or set CODECAST_TEST_POSTGRES_BIN',
      );
    }
    if (isRoot() && spawnSync('id', ['-u', 'postgres']).status !== 0) {
      throw new Error(
        'running as root, PostgreSQL needs the postgres OS user to run as, and there is none (apt-get install postgresql creates it)',
      );
    }
    const dir = mkdtempSync(join(tmpdir(), 'codecast-pg-'));
    if (isRoot()) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    const server = new PrivatePostgres(bin, dir, await freePort());
    const init = await run(
      join(bin, 'initdb'),
      ['-D', server.#data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      dir,
      60_000,
    );
    if (!init.ok) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`initdb failed:\n${init.output}`);
    }
    server.#configure();
    return server;
  }

  /** The server's settings, appended to the postgresql.conf initdb wrote (the last one wins). */
  #configure(): void {
    appendFileSync(
      join(this.#data, 'postgresql.conf'),
      [
        '',
        '# codecast test server',
        "listen_addresses = '127.0.0.1'",
        `port = ${this.#port}`,
        // The socket beside the data, not in /var/run/postgresql, which may
        // not exist or be writable, and which is the shared server's.
        `unix_socket_directories = '${this.dir}'`,
        // A test database need not survive a machine crash.
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'shared_buffers = 16MB',
        'max_connections = 100',
        '',
      ].join('\n'),
    );
  }

  /** Fixed from the first successful start on; before it, a clash may move it. */
  get port(): number {
    return this.#port;
  }

  /** postgres://postgres@127.0.0.1:PORT/`database`. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.#port}/${encodeURIComponent(database)}`;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Starts the server and waits until it answers a query; throws with its log if it does not. */
  async start(): Promise<void> {
    if (this.#started) return;
    for (let attempt = 1; ; attempt++) {
      const started = await run(
        join(this.#bin, 'pg_ctl'),
        ['-D', this.#data, '-l', this.#log, '-w', '-t', String(PG_CTL_TIMEOUT_SECONDS), 'start'],
        this.dir,
        (PG_CTL_TIMEOUT_SECONDS + 5) * 1000,
      );
      if (started.ok) break;
      // The port was free when picked; something took it since. Before the
      // first start nobody knows the port yet, so another one will do.
      if (!this.#everStarted && attempt < 3 && /could not bind|already in use/i.test(this.log())) {
        this.#port = await freePort();
        this.#configure();
        continue;
      }
      throw new Error(`PostgreSQL on port ${this.#port} did not start: ${started.output}\n${this.log()}`);
    }
    this.#started = true;
    this.#everStarted = true;
    running.add(this);
    if (!(await postgresAnswers(this.url(), CONNECT_TIMEOUT_MS))) {
      throw new Error(`PostgreSQL on port ${this.#port} started but does not answer a query\n${this.log()}`);
    }
  }

  /** A fast shutdown: sessions are ended, the server stops; the data stays for `start()`. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.thaw();
    const stopped = await run(
      join(this.#bin, 'pg_ctl'),
      ['-D', this.#data, '-m', 'fast', '-w', '-t', String(PG_CTL_TIMEOUT_SECONDS), 'stop'],
      this.dir,
      (PG_CTL_TIMEOUT_SECONDS + 5) * 1000,
    );
    if (!stopped.ok) throw new Error(`PostgreSQL on port ${this.#port} did not stop: ${stopped.output}\n${this.log()}`);
    this.#started = false;
    running.delete(this);
  }

  /**
   * SIGSTOP on the postmaster and every backend: the server keeps its
   * sockets open and answers nothing, as a hung host or a stalled disk
   * would. The postmaster first, so it forks no backend the list misses.
   * `thaw()` undoes it; `stop()` and `destroy()` thaw first.
   */
  freeze(): void {
    if (!this.#started || this.#frozen.length > 0) return;
    const postmaster = Number(readFileSync(join(this.#data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGSTOP');
    this.#frozen.push(postmaster);
    const children = spawnSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).stdout;
    for (const pid of children.split('\n').filter((line) => line.trim() !== '')) {
      try {
        process.kill(Number(pid), 'SIGSTOP');
        this.#frozen.push(Number(pid));
      } catch {
        // ended between the listing and the signal
      }
    }
  }

  /** SIGCONT on whatever `freeze()` stopped; harmless when nothing is frozen. */
  thaw(): void {
    for (const pid of this.#frozen.splice(0).reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the server if it runs and removes its directory. */
  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.destroySync();
    }
  }

  /** What `destroy()` does, without waiting on the event loop: for process exit. */
  destroySync(): void {
    this.thaw();
    if (this.#started) {
      const [file, argv] = asServerUser(join(this.#bin, 'pg_ctl'), ['-D', this.#data, '-m', 'immediate', '-w', '-t', '10', 'stop']);
      spawnSync(file, argv, { cwd: this.dir, stdio: 'ignore', timeout: 15_000 });
      this.#started = false;
    }
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of the server's log, for error messages. */
  log(lines = 30): string {
    try {
      const text = readFileSync(this.#log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return `--- server log (${this.#log}) ---\n${text}`;
    } catch {
      return `--- no server log at ${this.#log} ---`;
    }
  }
}
