/**
 * Runs the built CLI (dist/cli/main.js) as a real child process, as a shell
 * or a service manager would: no TTY, settings only through the environment.
 * Every process started here is tracked so a test file can kill leftovers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../../src/config/index.js';

export { freePort } from './free-port.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

if (!existsSync(CLI)) {
  throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json, or npm test which builds)`);
}

/** What a token printed by the CLI looks like: one word of visible ASCII. */
export const TOKEN_LINE = /^\s*([\x21-\x7e]{16,256})\s*$/;

const live = new Set<ChildProcess>();

/**
 * The environment for a child: the parent's, minus every codecast setting
 * (so nothing from the developer's shell leaks in), plus `env`.
 */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const spec of settingsTable) delete base[spec.env];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CliResult extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

/** A spawned process with its output gathered as it arrives. */
export class Spawned {
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(readonly child: ChildProcess) {
    live.add(child);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve, reject) => {
      child.once('error', reject);
      // 'close' waits for the output pipes to be drained as well.
      child.once('close', (code, signal) => {
        live.delete(child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the exit, or fails (and kills the process) if it takes longer than `ms`. */
  async waitExit(ms: number, what = 'the process to exit'): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until stdout matches `pattern`; fails if the process exits first or after `ms`. */
  async waitForOutput(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (this.exit) {
        throw new Error(
          `process exited (${JSON.stringify(this.exit)}) before printing ${pattern}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${pattern}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
    }
  }
}

/** Starts `node dist/cli/main.js ...args` with no TTY (stdin ignored, output piped). */
export function spawnCli(args: readonly string[], env: Record<string, string | undefined>): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Spawned(child);
}

/**
 * Starts a TypeScript script of the tests (`node --import tsx path ...args`)
 * with stdin piped, for a program built on codecast's library that must end
 * by itself.
 */
export function spawnScript(path: string, args: readonly string[], env: Record<string, string | undefined> = {}): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Spawned(child);
}

/** Runs a CLI command to completion (killed and failed after `timeoutMs`). */
export async function runCli(args: readonly string[], env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<CliResult> {
  const spawned = spawnCli(args, env);
  const exit = await spawned.waitExit(timeoutMs, `codecast ${args.join(' ')}`);
  return { ...exit, stdout: spawned.stdout, stderr: spawned.stderr };
}

/** Runs a shell command line (sh -c) in the repository with `env`. */
export async function runShell(line: string, env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<CliResult> {
  const child = spawn('sh', ['-c', line], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const spawned = new Spawned(child);
  const exit = await spawned.waitExit(timeoutMs, `sh -c ${line}`);
  return { ...exit, stdout: spawned.stdout, stderr: spawned.stderr };
}

/** What `tail -n 1` would print of `text` (without the newline). */
export function lastLine(text: string): string {
  const lines = text.replace(/\n$/, '').split('\n');
  return lines[lines.length - 1] ?? '';
}

/** A running `codecast serve`, with the address it printed. */
export interface ServeProcess {
  readonly process: Spawned;
  readonly host: string;
  readonly port: number;
  readonly url: string;
}

/**
 * Starts `codecast serve` on a pseudo-terminal, as an operator's shell runs
 * it: script(1) gives it one, and passes what it prints (with \r\n line
 * ends) on to a pipe. SIGTERM to `process` reaches script, which passes a
 * hang-up on; stop the server itself by `pid` from its log lines instead.
 */
export function spawnCliOnTerminal(args: readonly string[], env: Record<string, string | undefined>): Spawned {
  const command = [process.execPath, CLI, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Spawned(child);
}

/** Starts `codecast serve` and waits for its "listening on HOST:PORT" line; on a terminal with `{ terminal: true }`. */
export async function startServe(env: Record<string, string | undefined>, options: { terminal?: boolean } = {}): Promise<ServeProcess> {
  const spawned = options.terminal ? spawnCliOnTerminal(['serve'], env) : spawnCli(['serve'], env);
  try {
    const match = await spawned.waitForOutput(/listening on (\S+):(\d+)\s*$/m);
    const host = match[1]!;
    const port = Number(match[2]);
    return { process: spawned, host, port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
  } catch (error) {
    spawned.kill();
    throw error;
  }
}

/** SIGKILLs every process started here that is still running. */
export async function killAll(): Promise<void> {
  const children = [...live];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(
    children.map((child) =>
      child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => child.once('close', resolve)),
    ),
  );
}

/** JSON GET/POST/... with an optional bearer token; answers status and parsed body. */
export async function request(
  url: string,
  options: { method?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

/** Polls `probe` until it answers `status` (a change made elsewhere takes a poll period to apply). */
export async function waitForStatus(
  probe: () => Promise<{ status: number; body: any }>,
  status: number,
  what: string,
  timeoutMs = 5000,
): Promise<{ status: number; body: any }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer.status === status) return answer;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: last answer ${answer.status} ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
