import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { WebSocket } from 'ws';
import type { BackendSample } from './backend-work.js';
import { extraNodeFlags } from './node-flags.js';
import { now, within } from './measure.js';
import type { SubscriberSpec, Transport } from './protocol.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSX = import.meta.resolve('tsx');
const LISTENING = /listening on (\S+):(\d+)/;

/** `codecast`, `codecast-pg` on PostgreSQL, `codecast@<dir>` for another build, or `bare-<transport>`. */
export type TargetName = string;

export interface PublishAnswer {
  readonly status: number;
  /** From just before the request to its answer. */
  readonly ms: number;
  readonly connections: number | undefined;
  /** The code's id (codecast). */
  readonly id?: number;
}

/** A server under test: codecast or a bare broadcaster, started here or already running. */
export interface Target {
  readonly name: TargetName;
  readonly host: string;
  readonly port: number;
  /** The server's process, for /proc readings; undefined for a remote one without --pid. */
  readonly pid: number | undefined;
  /** Every process of the server, for /proc readings summed over them: `pid`, or each node of a cluster. */
  readonly pids: readonly number[];
  readonly transports: readonly Transport[];
  /** Creates what `count` subscribers need (codecast: users and tokens). */
  prepare(count: number): Promise<void>;
  subscriber(transport: Transport, index: number): SubscriberSpec;
  /** Publishes code `BENCH-<k>`; `startedAt` is stamped just before the request goes out. */
  publish(k: number, startedAt?: (t: number) => void): Promise<PublishAnswer>;
  /** codecast's GET /api/v1/stats; undefined for a bare server. */
  stats(): Promise<Record<string, unknown> | undefined>;
  /** Stops a server started here; answers the CPU profile it wrote, if asked for one. */
  stop(): Promise<string | undefined>;
  /**
   * A full garbage collection in the server (over its inspector), then its
   * heap in use; undefined for a server not started here.
   */
  collectGarbage(): Promise<{ heapUsedKb: number } | undefined>;
  /** The server's inspector WebSocket URL, when the harness started it. */
  inspectorUrl(): string | undefined;
  /** A cluster run: how many nodes, and the counters of its Redis and PostgreSQL (see backend-work.ts). */
  readonly nodeCount?: number;
  backendSample?(): Promise<BackendSample>;
}

export interface ServerOptions {
  /** Write a V8 CPU profile into this folder (`--cpu-prof`). */
  readonly profileDir?: string;
  /** Extra environment for codecast. */
  readonly env?: Record<string, string>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/**
 * Closes the harness's idle keep-alive connections to the servers, so that
 * counts of the server's open files (the soak's baseline and its end) hold
 * only what the server keeps for itself and its clients.
 */
export function closeIdleHttpConnections(): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}

interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

function http(
  method: string,
  url: string,
  options: { token?: string; body?: unknown } = {},
  startedAt?: (t: number) => void,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string | number> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    startedAt?.(now());
    req.end(payload);
  });
}

/** Spawns a server and waits for its "listening on HOST:PORT" line. */
export async function spawnServer(
  label: string,
  args: readonly string[],
  env: Record<string, string>,
  profileDir: string | undefined,
): Promise<{ child: ChildProcess; host: string; port: number; profile: () => string | undefined; inspector: () => string | undefined }> {
  // A folder of its own: every thread writes a profile (tsx's loader thread too).
  const dir = profileDir === undefined ? undefined : join(profileDir, `${label}-${Date.now()}`);
  if (dir) mkdirSync(dir, { recursive: true });
  // The inspector, on loopback and an ephemeral port, lets the harness run a
  // full GC before reading memory, the same way in every server. The young
  // generation is held at V8's default largest size from the start, in every
  // server alike: left to V8, it grew or shrank while subscribers connected,
  // by however much garbage each server made, and that moved RSS by up to
  // 8 MB at 10,000 connections — the bare ws server read anywhere from 2.5
  // to 3.5 KB per connection, run to run, with the same heap per connection.
  const youngGeneration = ['--min-semi-space-size=16', '--max-semi-space-size=16'];
  const extra = extraNodeFlags('CODECAST_BENCH_SERVER_FLAGS');
  const flags = ['--inspect=127.0.0.1:0', ...youngGeneration, ...extra, ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [])];
  const child = spawn(process.execPath, [...flags, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let inspectorUrl: string | undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      const match = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (match) inspectorUrl = match[1];
      else if (line.trim() !== '' && !/^(For help, see|Debugger (ending|attached)|Waiting for the debugger)/.test(line))
        process.stderr.write(`[${label}] ${line}\n`);
    }
  });
  const listening = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${label} did not say it was listening within 30 s:\n${out}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before listening:\n${out}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = LISTENING.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ host: match[1] === '0.0.0.0' ? '127.0.0.1' : (match[1] as string), port: Number(match[2]) });
      }
    });
  });
  child.removeAllListeners('exit');
  // Extra flags such as --trace-gc print on stdout: pass it on, labelled, so a run's spikes can be lined up with it.
  if (extra.length > 0) {
    child.stdout?.removeAllListeners('data');
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') process.stderr.write(`[${label}] ${line}\n`);
    });
  }
  // The main thread's profile is the largest one.
  const profile = () =>
    dir === undefined
      ? undefined
      : readdirSync(dir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => join(dir, f))
          .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  return { child, ...listening, profile, inspector: () => inspectorUrl };
}

/** A connection to a server's inspector: `call` sends one method and answers its result. */
export async function openInspector(url: string): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let id = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const mine = ++id;
      const onMessage = (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: number; result?: unknown };
        if (message.id !== mine) return;
        socket.off('message', onMessage);
        resolve(message.result);
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id: mine, method, params }));
    });
  return { call, close: () => socket.close() };
}

/** Runs a full GC in a server through its inspector and answers its heap in use. */
export async function collectGarbage(url: string | undefined): Promise<{ heapUsedKb: number } | undefined> {
  if (url === undefined) return undefined;
  let inspector: Awaited<ReturnType<typeof openInspector>> | undefined;
  try {
    inspector = await openInspector(url);
    // Garbage enough to cycle the young generation twice over first, so that
    // all of it has been touched however little the server has allocated so
    // far: a fresh server's baseline otherwise held a few MB more or less of
    // it from run to run, which moved RSS per connection by half a KB.
    await inspector.call('Runtime.evaluate', { expression: 'for (let i = 0, a; i < 2e6; i++) a = [i];' });
    await inspector.call('HeapProfiler.collectGarbage');
    const result = (await inspector.call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true })) as {
      result?: { value?: number };
    };
    const heapUsed = result.result?.value;
    return heapUsed === undefined ? undefined : { heapUsedKb: Math.round(heapUsed / 1024) };
  } catch {
    return undefined;
  } finally {
    inspector?.close();
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const ok = await within(exited, 20_000);
  if (!ok) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Environment for a server child: enough to run node, none of our own settings. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

const CODE_BODY = (k: number) => ({ code: `BENCH-${k}`, value: 1, type: 'drop', message: 'benchmark code' });

export class CodecastTarget implements Target {
  readonly transports: readonly Transport[] = ['sse', 'ws', 'socketio'];
  readonly #tokens: string[] = [];
  #users = 0;

  constructor(
    readonly name: TargetName,
    readonly host: string,
    readonly port: number,
    readonly pid: number | undefined,
    private readonly adminToken: string,
    private readonly perUser: number,
    private readonly onStop: () => Promise<string | undefined>,
    private readonly inspector: () => string | undefined = () => undefined,
  ) {}

  get pids(): readonly number[] {
    return this.pid === undefined ? [] : [this.pid];
  }

  collectGarbage(): Promise<{ heapUsedKb: number } | undefined> {
    return collectGarbage(this.inspector());
  }

  inspectorUrl(): string | undefined {
    return this.inspector();
  }

  get #base(): string {
    return `http://${this.host}:${this.port}`;
  }

  async prepare(count: number): Promise<void> {
    const needed = Math.ceil(count / this.perUser);
    const stamp = Date.now().toString(36);
    while (this.#tokens.length < needed) {
      const username = `bench-${stamp}-${this.#users++}`;
      const res = await http('POST', `${this.#base}/api/v1/users`, { token: this.adminToken, body: { username, role: 'user' } });
      if (res.status !== 201) throw new Error(`creating user ${username}: ${res.status} ${JSON.stringify(res.body)}`);
      this.#tokens.push((res.body as { token: { token: string } }).token.token);
    }
  }

  subscriber(transport: Transport, index: number): SubscriberSpec {
    const token = this.#tokens[Math.floor(index / this.perUser)];
    if (token === undefined) throw new Error(`no token for subscriber ${index}: call prepare first`);
    switch (transport) {
      case 'sse':
        return { transport, path: '/api/v1/stream', token };
      case 'ws':
        return { transport, path: '/api/v1/ws', token };
      case 'socketio':
        // Half on the replaced service's namespace, half on the root one.
        return { transport, path: '/socket.io/?EIO=4&transport=websocket', token, namespace: index % 2 === 0 ? '/' : '/events' };
    }
  }

  async publish(k: number, startedAt?: (t: number) => void): Promise<PublishAnswer> {
    let t0 = now();
    const res = await http('POST', `${this.#base}/api/v1/codes`, { token: this.adminToken, body: CODE_BODY(k) }, (t) => {
      t0 = t;
      startedAt?.(t);
    });
    const ms = now() - t0;
    const body = res.body as { audience?: { connections?: number }; code?: { id?: number } } | undefined;
    if (res.status !== 201) process.stderr.write(`publish BENCH-${k}: ${res.status} ${JSON.stringify(res.body)}\n`);
    return {
      status: res.status,
      ms,
      connections: body?.audience?.connections,
      ...(body?.code?.id === undefined ? {} : { id: body.code.id }),
    };
  }

  async stats(): Promise<Record<string, unknown> | undefined> {
    const res = await http('GET', `${this.#base}/api/v1/stats`, { token: this.adminToken });
    return res.status === 200 ? (res.body as Record<string, unknown>) : undefined;
  }

  stop(): Promise<string | undefined> {
    return this.onStop();
  }
}

export type StoreKind = 'sqlite' | 'postgres';

/** The PostgreSQL server benchmarks make their databases on (one per server, dropped after); under `npm test`, the test run's. */
export const BENCH_POSTGRES_URL =
  process.env.CODECAST_BENCH_POSTGRES_URL || process.env.CODECAST_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh PostgreSQL database for one server (or one cluster): its URL, its name, and how to drop it. */
export async function freshPostgresDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `codecast_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: BENCH_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(BENCH_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: BENCH_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Builds nothing: starts `node dist/cli/main.js serve` (of this checkout, or
 * of `dir`) on port 0 over a fresh SQLite file, or a fresh PostgreSQL
 * database with `store: 'postgres'`, with caps large enough for
 * `maxConnections`.
 */
export async function startCodecast(
  options: ServerOptions & { maxConnections: number; perUser: number; dir?: string; store?: StoreKind },
): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-bench-'));
  const postgres = options.store === 'postgres' ? await freshPostgresDatabase() : undefined;
  const adminToken = `cc_bench-admin-${Math.random().toString(36).slice(2)}-0123456789abcdef`;
  const env = {
    ...baseEnv(),
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: postgres?.url ?? `sqlite:${join(dir, 'codecast.db')}`,
    CODECAST_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'warn',
    CODECAST_MAX_CONNECTIONS: String(options.maxConnections),
    CODECAST_MAX_CONNECTIONS_PER_USER: String(options.perUser),
    ...options.env,
  };
  const label = `codecast${postgres ? '-pg' : ''}${options.dir === undefined ? '' : `@${basename(options.dir)}`}`;
  const main = join(options.dir ?? REPO, 'dist', 'cli', 'main.js');
  let server: Awaited<ReturnType<typeof spawnServer>>;
  try {
    server = await spawnServer(label, [main, 'serve'], env, options.profileDir);
  } catch (error) {
    await postgres?.drop();
    throw error;
  }
  return new CodecastTarget(
    label,
    server.host,
    server.port,
    server.child.pid,
    adminToken,
    options.perUser,
    async () => {
      await stopProcess(server.child);
      rmSync(dir, { recursive: true, force: true });
      await postgres?.drop();
      return server.profile();
    },
    server.inspector,
  );
}

/** A codecast already running (`--url`, `--token`, optionally `--pid` for /proc readings). */
export function remoteCodecast(url: string, adminToken: string, perUser: number, pid?: number): Target {
  const parsed = new URL(url);
  return new CodecastTarget('codecast', parsed.hostname, Number(parsed.port || 80), pid, adminToken, perUser, async () => undefined);
}

class BareTarget implements Target {
  constructor(
    readonly name: TargetName,
    readonly transports: readonly Transport[],
    readonly host: string,
    readonly port: number,
    readonly pid: number | undefined,
    private readonly onStop: () => Promise<string | undefined>,
    private readonly inspector: () => string | undefined,
  ) {}

  get pids(): readonly number[] {
    return this.pid === undefined ? [] : [this.pid];
  }

  collectGarbage(): Promise<{ heapUsedKb: number } | undefined> {
    return collectGarbage(this.inspector());
  }

  inspectorUrl(): string | undefined {
    return this.inspector();
  }

  async prepare(): Promise<void> {}

  subscriber(transport: Transport): SubscriberSpec {
    switch (transport) {
      case 'sse':
        return { transport, path: '/stream' };
      case 'ws':
        return { transport, path: '/' };
      case 'socketio':
        return { transport, path: '/socket.io/?EIO=4&transport=websocket', namespace: '/' };
    }
  }

  async publish(k: number, startedAt?: (t: number) => void): Promise<PublishAnswer> {
    // The same code object codecast would deliver, so the bytes on the wire match.
    const body = { id: k, ...CODE_BODY(k), publishedAt: new Date().toISOString(), expiresAt: null, source: 'api' };
    let t0 = now();
    const res = await http('POST', `http://${this.host}:${this.port}/publish`, { body }, (t) => {
      t0 = t;
      startedAt?.(t);
    });
    return { status: res.status, ms: now() - t0, connections: (res.body as { connections?: number } | undefined)?.connections };
  }

  async stats(): Promise<undefined> {
    return undefined;
  }

  stop(): Promise<string | undefined> {
    return this.onStop();
  }
}

export async function startBare(transport: Transport, options: ServerOptions = {}): Promise<Target> {
  const name = `bare-${transport}` as TargetName;
  const script = fileURLToPath(new URL(`./bare/${transport}.ts`, import.meta.url));
  const server = await spawnServer(name, ['--import', TSX, script], { ...baseEnv(), PORT: '0', HOST: '127.0.0.1' }, options.profileDir);
  return new BareTarget(
    name,
    [transport],
    server.host,
    server.port,
    server.child.pid,
    async () => {
      await stopProcess(server.child);
      return server.profile();
    },
    server.inspector,
  );
}
