// The production path: the package with dist/ built and its dev
// dependencies gone (what `npm ci --omit=dev` leaves; here a hard-linked
// copy of node_modules pruned with `npm prune --omit=dev`, offline), started
// each way the README documents and stopped by SIGTERM to what was started:
// every one says "shutdown" to its streams and leaves nothing running.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { childEnv, isListening, ROOT, Spawned } from './support/cli-helpers.js';
import { SseReader } from './support/sse.js';

const ADMIN_TOKEN = 'production-install-admin-0123456789';
/** What a production install holds: the built code, the pages, the start script, the package files. */
const SHIPPED = ['package.json', 'package-lock.json', 'dist', 'public', 'scripts', 'LICENSE', 'README.md'];

/** The ways the README says to start the server, as the operator types them (no shell in between). */
const WAYS: readonly { name: string; command: string; args: string[]; root?: boolean }[] = [
  { name: 'npm start', command: 'npm', args: ['start'] },
  { name: 'npx codecast serve', command: 'npx', args: ['codecast', 'serve'] },
  // How systemd runs it (deploy/codecast.service).
  { name: 'node dist/cli/main.js serve', command: process.execPath, args: ['dist/cli/main.js', 'serve'] },
  // How a container runs it (deploy/Dockerfile): node is PID 1 of its own
  // PID namespace, where a signal without a handler would be ignored. The
  // SIGTERM goes to node itself from outside, as a container engine sends it
  // (unshare, like a container runtime's shim, ignores it).
  {
    name: 'node as PID 1 of a container',
    command: 'unshare',
    args: ['--pid', '--fork', '--kill-child=SIGTERM', '--mount-proc', process.execPath, 'dist/cli/main.js', 'serve'],
    root: true,
  },
];

describe('a production install (no dev dependencies) starts, and stops on SIGTERM, each documented way', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'codecast-production-'));
    for (const entry of SHIPPED) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    // Hard links: the prune unlinks the copy's files, never the checkout's.
    // From the real folder: a checkout whose node_modules is a symlink (a
    // git worktree sharing another's) would otherwise get the link copied,
    // and the prune would run on the other checkout's packages.
    const linked = spawnSync('cp', ['-al', realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules')]);
    assert.equal(linked.status, 0, String(linked.stderr));
    const pruned = spawnSync('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
    assert.equal(pruned.status, 0, pruned.stderr);
    for (const dev of ['typescript', 'tsx', 'socket.io-client', 'playwright-core', 'eventsource']) {
      assert.equal(existsSync(join(dir, 'node_modules', dev)), false, `${dev} is a dev dependency: pruned`);
    }
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('codecast/client imports from the install: the Node entry with ws, the browser entry on its own', () => {
    const script =
      "const node = await import('codecast/client'); const browser = await import('./dist/client/index.js');" +
      'console.log(typeof node.subscribe, typeof node.fetchHistory, typeof browser.subscribe, node.subscribe !== browser.subscribe);';
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'function function function true');
  });

  for (const way of WAYS) {
    const skip = way.root === true && process.getuid?.() !== 0 ? 'needs root (a PID namespace of its own)' : false;
    test(`${way.name}: serves, says shutdown to a stream on SIGTERM to that process, and nothing runs after`, { skip }, async () => {
      const env = childEnv({
        DATABASE_URL: `sqlite:${join(dir, 'data', `${way.name.replace(/[^a-z0-9]+/gi, '-')}.db`)}`,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        CODECAST_ADMIN_TOKEN: ADMIN_TOKEN,
        CODECAST_SHUTDOWN_RECONNECT_MS: '2345',
        // Never the checkout's tools: only what the install holds.
        PATH: (process.env.PATH ?? '')
          .split(':')
          .filter((part) => !part.includes('node_modules'))
          .join(':'),
      });
      const started = new Spawned(spawn(way.command, way.args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
      let port = 0;
      try {
        const match = await started.waitForOutput(/listening on \S+:(\d+)\s*$/m, 60_000);
        port = Number(match[1]);
        const reader = await SseReader.open(`http://127.0.0.1:${port}`, { token: ADMIN_TOKEN });
        try {
          await reader.waitForEvent('hello');
          // The pages' client library is part of what was built and shipped.
          const library = await fetch(`http://127.0.0.1:${port}/assets/client/index.js`);
          assert.equal(library.status, 200);
          assert.match(await library.text(), /export function subscribe/);
          if (way.root) {
            // The container's PID 1: unshare's one child.
            const pid = Number(readFileSync(`/proc/${started.pid}/task/${started.pid}/children`, 'utf8').trim().split(' ')[0]);
            assert.ok(pid > 0, 'the contained node process');
            process.kill(pid, 'SIGTERM');
          } else {
            assert.equal(started.child.kill('SIGTERM'), true);
          }
          // npm and npx end by the signal they pass on (or, for npx, that its shell dies of): their status says little.
          await started.waitExit(15_000, `${way.name} to exit after SIGTERM`);
          await reader.waitForEnd();
          const shutdown = reader.of('shutdown');
          assert.equal(shutdown.length, 1, `the stream was told: ${reader.raw.join('')}`);
          assert.equal(shutdown[0]!.data.reconnectAfterMs, 2345);
        } finally {
          reader.close();
        }
        // The server itself, not only what started it, is gone.
        for (let waited = 0; (await isListening(port)) && waited < 5_000; waited += 100) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(await isListening(port), false, `nothing listens on ${port} after the stop\n${started.stdout}\n${started.stderr}`);
        assert.match(started.stdout, /"msg":"stopping"/);
      } finally {
        started.kill('SIGKILL');
      }
    });
  }
});
