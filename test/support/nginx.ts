/**
 * Debian's nginx for tests: deploy/nginx/codecast.conf as shipped, its
 * `listen` moved to a free port on 127.0.0.1 and its upstream pointed at a
 * test server, run in the foreground from a temporary prefix with its logs
 * there. Never the system's nginx configuration or service.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const SITE_FILE = new URL('../../deploy/nginx/codecast.conf', import.meta.url);

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** The nginx binary (on PATH, or Debian's /usr/sbin, often not on a user's PATH), or undefined. */
export function findNginx(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (found && existsSync(found)) return found;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined;
}

/**
 * What an nginx test file should do: run with the binary, or skip loudly.
 * In CI (`CI=true`) a missing nginx is an error: a broken install must never
 * pass as a skipped test.
 */
export function nginxForTests(): { path: string; skip?: undefined } | { path?: undefined; skip: string } {
  const path = findNginx();
  if (path) return { path };
  const message = 'nginx is not installed (apt-get install nginx; npm test installs it when run as root): the nginx tests are SKIPPED.';
  if (process.env.CI === 'true') throw new Error(`${message} In CI this is a failure, not a skip.`);
  console.error(`\n*** ${message} ***\n`);
  return { skip: message };
}

/** The site file as the test runs it: every `listen` replaced by one on 127.0.0.1:`port`. */
export function siteForTest(port: number): string {
  const site = readFileSync(SITE_FILE, 'utf8');
  const listens = site.match(/^\s*listen\s[^;]*;/gm) ?? [];
  if (listens.length === 0) throw new Error(`${SITE_FILE.pathname} has no listen directive`);
  let first = true;
  return site.replace(/^(\s*)listen\s[^;]*;/gm, (_line, indent: string) => {
    const replaced = first ? `${indent}listen 127.0.0.1:${port};` : `${indent}# (a listen taken out for the test)`;
    first = false;
    return replaced;
  });
}

export interface RunningNginx {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** What nginx wrote to its error log so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts nginx with the shipped site in front of the codecast nodes at
 * `upstreamPorts` (on 127.0.0.1). Retries on another port when the free one
 * was taken in the meantime.
 */
export async function startNginx(binary: string, upstreamPorts: readonly number[]): Promise<RunningNginx> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, upstreamPorts, await freePort());
    } catch (error) {
      if (attempt >= 3 || !(error instanceof Error) || !/Address already in use/.test(error.message)) throw error;
    }
  }
}

async function startOnce(binary: string, upstreamPorts: readonly number[], port: number): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-nginx-'));
  // Run as root, nginx's workers drop to `nobody`: they must reach the temp paths.
  chmodSync(dir, 0o755);
  const errorLogPath = join(dir, 'error.log');
  writeFileSync(join(dir, 'site.conf'), siteForTest(port));
  writeFileSync(
    join(dir, 'upstream.conf'),
    `upstream codecast {\n    hash $remote_addr consistent;\n${upstreamPorts.map((p) => `    server 127.0.0.1:${p};\n`).join('')}}\n`,
  );
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'worker_processes 1;',
      `error_log ${errorLogPath} info;`,
      'events { worker_connections 1024; }',
      'http {',
      `    access_log ${join(dir, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(dir, `${kind}_temp`)};`),
      `    include ${join(dir, 'upstream.conf')};`,
      `    include ${join(dir, 'site.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    binary,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLogPath, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // A test process that dies leaves no nginx behind.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await listening(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      kill();
      await exited;
      process.off('exit', kill);
      const why = `${stderr}${errorLog()}`;
      cleanUp();
      throw new Error(`nginx did not start on 127.0.0.1:${port}: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    errorLog,
    stop: () =>
      (stopped ??= (async () => {
        // SIGQUIT would wait for every open stream; the test is done with them.
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
        process.off('exit', kill);
        cleanUp();
      })()),
  };
}
