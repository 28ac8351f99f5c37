// `codecast/client` as it ships: the package's export map, the types, the
// browser build (no Node in it, nothing but its own modules, served to the
// pages), and a Node process using the built package that subscribes, acks,
// closes, and then exits by itself — so close() leaves no timer or socket.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { childEnv, ROOT, Spawned } from './support/cli-helpers.js';
import { LIBRARY_TRANSPORTS } from './support/library-clients.js';
import { startTestServer, type TestServer } from './support/server.js';

const DIST_CLIENT = join(ROOT, 'dist', 'client');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The relative imports of a built module. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map(
    (m) => (m[1] ?? m[2]) as string,
  );
}

describe('the package exports codecast/client', () => {
  test('Node resolves it to the Node entry; other environments to the browser build; both with types', () => {
    const resolved = fileURLToPath(import.meta.resolve('codecast/client'));
    assert.equal(resolved, join(DIST_CLIENT, 'node.js'));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const entry = pkg.exports['./client'];
    assert.equal(entry.default, './dist/client/index.js');
    for (const file of [entry.types, entry.node.types, entry.node.default, entry.default]) {
      assert.ok(existsSync(join(ROOT, file)), `${file} is built`);
    }
    const types = readFileSync(join(ROOT, entry.types), 'utf8');
    assert.match(types, /export declare function subscribe\(options: SubscribeOptions\): Subscription;/);
    assert.match(types, /export declare function fetchHistory\(/);
    assert.equal(pkg.bin.codecast, 'dist/cli/main.js', 'the binary is unchanged');
  });

  test('the browser build imports nothing but its own modules, and never the Node entry', () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of importsOf(file)) {
        assert.ok(specifier.startsWith('./'), `${file} imports ${specifier}: the browser build has no dependencies`);
        visit(resolve(dirname(file), specifier));
      }
    };
    visit(join(DIST_CLIENT, 'index.js'));
    assert.ok(seen.size >= 5, `the reader follows imports (${seen.size} modules)`);
    assert.ok(!seen.has(join(DIST_CLIENT, 'node.js')));
    assert.ok(importsOf(join(DIST_CLIENT, 'node.js')).includes('ws'), 'the Node entry imports ws (which the check above would refuse)');
  });

  test('the browser entry type-checks as a browser sees it: the DOM, no Node types', () => {
    const run = (project: string) => spawnSync(process.execPath, [TSC, '-p', project], { cwd: ROOT, encoding: 'utf8' });
    const clean = run('src/client/tsconfig.browser.json');
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    // The same check on a file that reaches for Node fails: it is not vacuous.
    const dir = mkdtempSync(join(tmpdir(), 'codecast-node-leak-'));
    try {
      const entry = join(ROOT, 'src', 'client', 'index.js');
      writeFileSync(join(dir, 'leak.ts'), `import '${entry}';\nexport const leak = process.env.HOME ?? Buffer.from('x');\n`);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(ROOT, 'src', 'client', 'tsconfig.browser.json'),
          compilerOptions: { rootDir: '/' },
          files: ['leak.ts'],
        }),
      );
      const leaky = run(join(dir, 'tsconfig.json'));
      assert.notEqual(leaky.status, 0);
      assert.match(leaky.stdout, /Cannot find name 'process'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the built package in a Node process', () => {
  let t: TestServer;
  let dir: string;
  before(async () => {
    t = await startTestServer({ CODECAST_HEARTBEAT_SECONDS: '1' });
    dir = mkdtempSync(join(tmpdir(), 'codecast-client-package-'));
  });
  after(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the server hands the browser build to the pages as JavaScript, and not the Node entry', async () => {
    for (const file of ['index.js', 'subscription.js', 'sse-link.js']) {
      const response = await fetch(`${t.url}/assets/client/${file}`);
      assert.equal(response.status, 200, file);
      assert.match(response.headers.get('content-type') ?? '', /javascript/, file);
      assert.equal(await response.text(), readFileSync(join(DIST_CLIENT, file), 'utf8'));
    }
    for (const file of ['node.js', 'index.d.ts', 'index.js.map']) {
      const response = await fetch(`${t.url}/assets/client/${file}`);
      assert.equal(response.status, 404, file);
      await response.arrayBuffer();
    }
    // The subscriber page and the embed stream through live-feed.js.
    const page = await (await fetch(`${t.url}/assets/js/subscriber/live-feed.js`)).text();
    assert.match(page, /from '\/assets\/client\/index\.js'/, 'the subscriber page uses the library');
    const admin = await (await fetch(`${t.url}/assets/js/admin/main.js`)).text();
    assert.match(admin, /from '\/assets\/client\/index\.js'/, 'the admin page uses the library');
    assert.equal((await fetch(`${t.url}/assets/js/code-stream.js`)).status, 404, 'the old stream code is gone');
  });

  for (const transport of LIBRARY_TRANSPORTS) {
    test(`over ${transport}: import 'codecast/client', subscribe, get and ack a code, close — and the process exits by itself`, async () => {
      const user = await t.createUser(`package-${transport}`);
      // In the package's directory, so the package name resolves to itself.
      const script = join(dir, `${transport}.mjs`);
      writeFileSync(
        script,
        `import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
const { subscribe } = await import(require.resolve('codecast/client'));
const subscription = subscribe({
  url: process.env.URL, token: process.env.TOKEN, transport: ${JSON.stringify(transport)},
  onState: (state) => console.log('state', state),
  onCode: async (code) => {
    console.log('code', code.id, code.code, JSON.stringify(await subscription.ack(code.id) ?? null));
    await subscription.close();
    console.log('closed');
  },
});
`,
      );
      const child = new Spawned(
        spawn(process.execPath, [script], {
          cwd: ROOT,
          env: childEnv({ URL: t.url, TOKEN: user.token }),
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      try {
        await child.waitForOutput(/state live/, 15_000);
        const code = await t.publish(`PACKAGE-${transport}`);
        await child.waitForOutput(/^closed$/m, 10_000);
        const closedAt = Date.now();
        const exit = await child.waitExit(10_000, 'the process to exit by itself after close()');
        // Nothing left to wait for: it ends as soon as the close is done, not
        // when a heartbeat watchdog (4 s) or a keep-alive lapses.
        assert.ok(Date.now() - closedAt < 2500, `exited ${Date.now() - closedAt} ms after close()`);
        assert.equal(exit.code, 0, child.stderr);
        assert.match(child.stdout, new RegExp(`^code ${code.id} PACKAGE-${transport} `, 'm'));
        if (transport === 'sse') assert.match(child.stdout, /"first":true/, 'acked over HTTP');
        else assert.match(child.stdout, / null$/m, 'acked by a frame');
        assert.match(child.stdout, /state closed/);
        let figures: any;
        for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
          figures = (await t.api('GET', `/api/v1/codes/${code.id}`)).body;
          if (figures.acks.users === 1) break;
        }
        assert.equal(figures.acks.users, 1);
      } finally {
        child.kill();
      }
    });
  }
});
