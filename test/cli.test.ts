/**
 * End-to-end tests of the `codecast` binary (dist/cli/main.js) run as real
 * processes without a TTY, the way an operator's shell or a service manager
 * runs it: settings only through the environment, a temp SQLite file, PORT=0.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CLI,
  TOKEN_LINE,
  freePort,
  isListening,
  killAll,
  lastLine,
  request,
  runCli,
  runShell,
  startServe,
  waitForStatus,
  type ServeProcess,
} from './support/cli-helpers.js';
import { settingsTable } from '../src/config/index.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { STORE_KINDS } from './support/stores.js';
import { SseReader, waitFor } from './support/sse.js';

const dirs: string[] = [];
function tempDatabase(): { dir: string; path: string; url: string } {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-cli-'));
  dirs.push(dir);
  // A subfolder that does not exist yet: the CLI must create what it needs.
  const path = join(dir, 'data', 'codecast.db');
  return { dir, path, url: `sqlite:${path}` };
}

function serverEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return { DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...extra };
}

/** Whether a line of stdout is one of the server's JSON log lines. */
function isLogLine(line: string): boolean {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
}

/** The lines of serve's stdout that are a bare token (not a log line; URL lines have spaces). */
function tokenLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => !isLogLine(line))
    .map((line) => line.match(TOKEN_LINE)?.[1])
    .filter((token): token is string => token !== undefined);
}

/** Asserts a CLI run printed a token alone on its last line and answers it. */
function printedToken(result: { code: number | null; stdout: string; stderr: string }, what: string): string {
  assert.equal(result.code, 0, `${what} should exit 0; stderr: ${result.stderr}`);
  const line = lastLine(result.stdout);
  assert.match(line, /^[\x21-\x7e]{16,256}$/, `${what}: the last line of stdout should be the token alone, got ${JSON.stringify(line)}`);
  return line;
}

/** Rows of `codecast user list`, keyed by username. */
function parseUserList(stdout: string): Map<string, { role: string; status: string }> {
  const [header, ...rows] = stdout.trim().split('\n');
  assert.match(header ?? '', /USERNAME/);
  assert.match(header ?? '', /ROLE/);
  assert.match(header ?? '', /STATUS/);
  const users = new Map<string, { role: string; status: string }>();
  for (const row of rows) {
    const [, username, role, status] = row.trim().split(/\s+/);
    if (username && role && status) users.set(username, { role, status });
  }
  return users;
}

const me = (server: ServeProcess, token: string) => () => request(`${server.url}/api/v1/me`, { token });

after(async () => {
  await killAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

for (const store of STORE_KINDS)
  describe(`migrate, user and token commands on one database (${store})`, () => {
    // An SQLite path in a folder that does not exist yet, or an empty PostgreSQL database.
    const sqlite = store === 'sqlite' ? tempDatabase() : undefined;
    let postgres: TestDatabase | undefined;
    const db = {
      get url(): string {
        return sqlite?.url ?? (postgres as TestDatabase).url;
      },
    };
    const env: Record<string, string> = { LOG_LEVEL: 'silent' };
    let server: ServeProcess | undefined;
    let aliceToken = '';
    let bobToken = '';

    before(async () => {
      if (store === 'postgres') postgres = await createTestDatabase('cli');
      env.DATABASE_URL = db.url;
    });
    after(async () => {
      server?.process.kill();
      await server?.process.exited;
      await postgres?.drop();
    });

    test('migrate creates the database, says it is up to date, and can run again', async () => {
      if (sqlite) assert.equal(existsSync(sqlite.path), false);
      const first = await runCli(['migrate'], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /up to date/i);
      if (sqlite) assert.equal(existsSync(sqlite.path), true, 'the SQLite file exists after migrate');

      const second = await runCli(['migrate'], env);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /up to date/i);
      assert.equal(second.stderr, '');
    });

    test('user add prints the token alone on the last line; --admin makes an admin; a repeat name fails', async () => {
      aliceToken = printedToken(await runCli(['user', 'add', 'alice'], env), 'user add alice');
      bobToken = printedToken(await runCli(['user', 'add', 'bob', '--admin'], env), 'user add bob --admin');
      assert.notEqual(aliceToken, bobToken);

      const again = await runCli(['user', 'add', 'alice'], env);
      assert.notEqual(again.code, 0, 'adding an existing user must fail');
      assert.equal(again.signal, null);
      assert.match(again.stderr, /alice/);
      assert.match(again.stderr, /exists/i);
      assert.equal(tokenLines(again.stdout).length, 0, `no token is printed: ${again.stdout}`);
    });

    test('the printed tokens work against a running server, with their roles', async () => {
      // bob is an admin already, so serve must not create (or print) a first admin.
      server = await startServe(serverEnv(db.url, { CODECAST_AUTH_POLL_MS: '200' }));
      assert.equal(tokenLines(server.process.stdout).length, 0, `no token is printed:\n${server.process.stdout}`);

      const alice = await me(server, aliceToken)();
      assert.equal(alice.status, 200, JSON.stringify(alice.body));
      assert.equal(alice.body.user.username, 'alice');
      assert.equal(alice.body.user.role, 'user');

      const bob = await me(server, bobToken)();
      assert.equal(bob.status, 200, JSON.stringify(bob.body));
      assert.equal(bob.body.user.username, 'bob');
      assert.equal(bob.body.user.role, 'admin');

      assert.equal((await request(`${server.url}/api/v1/stats`, { token: bobToken })).status, 200);
      assert.equal((await request(`${server.url}/api/v1/stats`, { token: aliceToken })).status, 403);
    });

    test('user list shows both users with role and status', async () => {
      const result = await runCli(['user', 'list'], env);
      assert.equal(result.code, 0, result.stderr);
      const users = parseUserList(result.stdout);
      assert.deepEqual([...users.keys()].sort(), ['alice', 'bob']);
      assert.deepEqual(users.get('alice'), { role: 'user', status: 'active' });
      assert.deepEqual(users.get('bob'), { role: 'admin', status: 'active' });
    });

    test('user disable and user enable change the status, and the running server follows', async () => {
      assert.ok(server);
      const disable = await runCli(['user', 'disable', 'alice'], env);
      assert.equal(disable.code, 0, disable.stderr);
      assert.match(disable.stdout, /alice/);
      const [listed, refused] = await Promise.all([
        runCli(['user', 'list'], env),
        waitForStatus(me(server, aliceToken), 403, 'the disabled user to be refused'),
      ]);
      assert.deepEqual(parseUserList(listed.stdout).get('alice'), { role: 'user', status: 'disabled' });
      assert.deepEqual(parseUserList(listed.stdout).get('bob'), { role: 'admin', status: 'active' });
      assert.equal(refused.body.error, 'user_disabled');

      const enable = await runCli(['user', 'enable', 'alice'], env);
      assert.equal(enable.code, 0, enable.stderr);
      const [relisted] = await Promise.all([
        runCli(['user', 'list'], env),
        waitForStatus(me(server, aliceToken), 200, 'the enabled user to be accepted again'),
      ]);
      assert.deepEqual(parseUserList(relisted.stdout).get('alice'), { role: 'user', status: 'active' });
    });

    test('token create prints a working token alone on the last line; token revoke withdraws it', async () => {
      assert.ok(server);
      const laptop = printedToken(
        await runCli(['token', 'create', 'alice', '--label', 'laptop'], env),
        'token create alice --label laptop',
      );
      assert.notEqual(laptop, aliceToken);

      const who = await me(server, laptop)();
      assert.equal(who.status, 200, JSON.stringify(who.body));
      assert.equal(who.body.user.username, 'alice');
      const tokenId: number = who.body.tokenId;

      const detail = await request(`${server.url}/api/v1/users/alice`, { token: bobToken });
      assert.equal(detail.status, 200);
      const info = detail.body.tokens.find((t: { id: number }) => t.id === tokenId);
      assert.ok(info, `token ${tokenId} is listed for alice`);
      assert.equal(info.label, 'laptop');
      assert.equal(info.revokedAt, null);

      const revoke = await runCli(['token', 'revoke', String(tokenId)], env);
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.match(revoke.stdout, new RegExp(`\\b${tokenId}\\b`));

      const refused = await waitForStatus(me(server, laptop), 401, 'the revoked token to be refused');
      assert.equal(refused.body.error, 'unauthorized');
      // Only that token: alice's first token still works.
      assert.equal((await me(server, aliceToken)()).status, 200);
      const after = await request(`${server.url}/api/v1/users/alice`, { token: bobToken });
      assert.notEqual(after.body.tokens.find((t: { id: number }) => t.id === tokenId).revokedAt, null);
    });

    test('token revoke of an unknown or malformed id fails clearly', async () => {
      const [unknown, malformed, noUser] = await Promise.all([
        runCli(['token', 'revoke', '99999'], env),
        runCli(['token', 'revoke', 'abc'], env),
        runCli(['token', 'create', 'nobody'], env),
      ]);
      assert.notEqual(unknown.code, 0);
      assert.equal(unknown.signal, null);
      assert.match(unknown.stderr, /no token/i);
      assert.doesNotMatch(unknown.stdout, /revoked/i);

      assert.notEqual(malformed.code, 0);
      assert.equal(malformed.signal, null);
      assert.match(malformed.stderr, /"abc"/);
      assert.match(malformed.stderr, /not a token id|whole number/i);
      assert.doesNotMatch(malformed.stdout, /revoked/i);

      assert.notEqual(noUser.code, 0);
      assert.match(noUser.stderr, /nobody/);
      assert.equal(tokenLines(noUser.stdout).length, 0);
    });
  });

describe('serve prints its addresses and, on a fresh database, the first admin token once', () => {
  test('on a terminal, without CODECAST_ADMIN_TOKEN: a new token, printed once, that works; not printed on the next start', async () => {
    const db = tempDatabase();
    const first = await startServe(serverEnv(db.url), { terminal: true });
    let firstToken: string;
    try {
      const out = first.process;
      assert.equal(first.host, '127.0.0.1');
      assert.ok(first.port > 0);
      await waitFor(() => tokenLines(out.stdout).length > 0, 'the first admin token to be printed');
      assert.match(out.stdout, new RegExp(`subscriber page\\s+http://\\S+:${first.port}/\\s*$`, 'm'));
      assert.match(out.stdout, new RegExp(`admin page\\s+http://\\S+:${first.port}/admin\\s*$`, 'm'));

      const tokens = tokenLines(out.stdout);
      assert.equal(tokens.length, 1, `one token line:\n${out.stdout}`);
      firstToken = tokens[0]!;

      const stats = await request(`${first.url}/api/v1/stats`, { token: firstToken });
      assert.equal(stats.status, 200, JSON.stringify(stats.body));
      // The addresses printed lead to the pages.
      const page = await fetch(`${first.url}/admin`);
      assert.equal(page.status, 200);
      await page.arrayBuffer();
    } finally {
      // script(1) would pass SIGTERM on as a hang-up: the server's own pid is in its log lines.
      const pid = Number(/"pid":(\d+)/.exec(first.process.stdout)?.[1]);
      if (pid > 0) process.kill(pid, 'SIGTERM');
      else first.process.kill('SIGTERM');
      await first.process.waitExit(10_000);
    }
    // Printed once over the whole run: not repeated, and not in any log line (requests used it).
    assert.equal(first.process.stdout.split(firstToken).length - 1, 1);
    assert.equal(first.process.stderr.includes(firstToken), false);

    const second = await startServe(serverEnv(db.url));
    try {
      assert.equal((await request(`${second.url}/api/v1/stats`, { token: firstToken })).status, 200, 'the first token still works');
    } finally {
      second.process.kill('SIGTERM');
    }
    // Judged on everything the second run printed, once it has exited.
    assert.equal((await second.process.waitExit(10_000)).code, 0, `stdout:\n${second.process.stdout}\nstderr:\n${second.process.stderr}`);
    assert.equal(tokenLines(second.process.stdout).length, 0, `no token on the second start:\n${second.process.stdout}`);
    assert.equal(second.process.stdout.includes(firstToken), false);
    assert.equal(second.process.stderr.includes(firstToken), false);
    assert.doesNotMatch(second.process.stdout, /first admin/i);
  });

  test('not on a terminal (a service, a container, a pipe): the first admin gets no token until `token create` gives one', async () => {
    const db = tempDatabase();
    const server = await startServe(serverEnv(db.url));
    try {
      await server.process.waitForOutput(/token create admin/);
      assert.match(server.process.stdout, /Created the first admin, "admin"\.\nIt has no token yet: standard output is not a terminal/);
      assert.equal(tokenLines(server.process.stdout).length, 0, `no token is printed:\n${server.process.stdout}`);
      const users = parseUserList((await runCli(['user', 'list'], { DATABASE_URL: db.url })).stdout);
      assert.deepEqual(users.get('admin'), { role: 'admin', status: 'active' });
      const created = await runCli(['token', 'create', 'admin'], { DATABASE_URL: db.url });
      const token = printedToken(created, 'token create admin');
      const who = await request(`${server.url}/api/v1/me`, { token });
      assert.equal(who.status, 200, JSON.stringify(who.body));
      assert.equal(who.body.user.role, 'admin');
    } finally {
      server.process.kill('SIGTERM');
    }
    assert.equal((await server.process.waitExit(10_000)).code, 0);
    assert.equal(tokenLines(server.process.stderr).length, 0);
  });

  test('a start that fails (the port is taken) creates no admin', async () => {
    const db = tempDatabase();
    const holder = await startServe(serverEnv(tempDatabase().url, { CODECAST_ADMIN_TOKEN: 'cli-test-port-holder-0123456789' }));
    try {
      const refused = await runCli(['serve'], serverEnv(db.url, { PORT: String(holder.port) }));
      assert.equal(refused.code, 1, `stdout:\n${refused.stdout}\nstderr:\n${refused.stderr}`);
      assert.match(refused.stderr, /EADDRINUSE|address already in use/i);
      assert.doesNotMatch(refused.stdout, /first admin/i);
      const users = await runCli(['user', 'list'], { DATABASE_URL: db.url });
      assert.equal(parseUserList(users.stdout).size, 0, `no user was created:\n${users.stdout}`);
    } finally {
      holder.process.kill('SIGTERM');
      await holder.process.waitExit(10_000);
    }
  });

  test('with CODECAST_ADMIN_TOKEN: says the token is that one, does not print it, and it works', async () => {
    const db = tempDatabase();
    const chosen = 'cli-test-admin-token-0123456789';
    const server = await startServe(serverEnv(db.url, { CODECAST_ADMIN_TOKEN: chosen }));
    try {
      await server.process.waitForOutput(/CODECAST_ADMIN_TOKEN/);
      assert.match(server.process.stdout, /token is the one in CODECAST_ADMIN_TOKEN/i);
      const stats = await request(`${server.url}/api/v1/stats`, { token: chosen });
      assert.equal(stats.status, 200, JSON.stringify(stats.body));
      const who = await request(`${server.url}/api/v1/me`, { token: chosen });
      assert.equal(who.body.user.username, 'admin');
      assert.equal(who.body.user.role, 'admin');
    } finally {
      server.process.kill('SIGTERM');
    }
    // Judged on everything the run printed, once it has exited: the chosen token is never echoed.
    assert.equal((await server.process.waitExit(10_000)).code, 0, `stdout:\n${server.process.stdout}\nstderr:\n${server.process.stderr}`);
    assert.equal(server.process.stdout.includes(chosen), false, 'the chosen token is not echoed');
    assert.equal(server.process.stderr.includes(chosen), false);
    assert.equal(tokenLines(server.process.stdout).length, 0);
  });
});

describe('a signal from the shell stops serve gracefully', () => {
  const adminToken = 'cli-test-admin-token-signals-0123';
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal}: an open SSE stream gets "shutdown" and the process exits 0 within 5 s`, async () => {
      const db = tempDatabase();
      const server = await startServe(serverEnv(db.url, { CODECAST_ADMIN_TOKEN: adminToken, CODECAST_SHUTDOWN_RECONNECT_MS: '1234' }));
      const reader = await SseReader.open(server.url, { token: adminToken });
      try {
        assert.equal(reader.status, 200);
        await reader.waitForEvent('hello');
        assert.equal(server.process.child.kill(signal), true);
        const exit = await server.process.waitExit(5000, `codecast serve to exit after ${signal}`);
        assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${server.process.stderr}`);
        await reader.waitForEnd();
        const shutdown = reader.of('shutdown');
        assert.equal(shutdown.length, 1, `frames: ${reader.raw.join('')}`);
        assert.equal(shutdown[0]!.data.reconnectAfterMs, 1234);
        assert.equal(reader.events.at(-1)!.event, 'shutdown', 'shutdown is the last event');
        assert.equal(await isListening(server.port), false, 'nothing listens after the stop');
      } finally {
        reader.close();
        server.process.kill();
      }
    });
  }
});

describe('a user disabled from the CLI while serve runs', () => {
  const adminToken = 'cli-test-admin-token-disable-0123';
  const db = tempDatabase();
  let server: ServeProcess;
  before(async () => {
    server = await startServe(serverEnv(db.url, { CODECAST_ADMIN_TOKEN: adminToken, CODECAST_AUTH_POLL_MS: '200' }));
  });
  after(async () => {
    // A graceful stop is tested above; here it would only wait for the test's idle sockets.
    server?.process.kill();
    await server?.process.exited;
  });

  test('loses its open stream within a few seconds and then gets 403', async () => {
    const env = { DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
    // Captured the way a script would: the last line of stdout.
    const captured = await runShell(`TOKEN=$("${process.execPath}" "${CLI}" user add carol | tail -n 1) && printf '%s' "$TOKEN"`, env);
    assert.equal(captured.code, 0, captured.stderr);
    const carolToken = captured.stdout;
    assert.match(carolToken, /^[\x21-\x7e]{16,256}$/);

    const carol = await SseReader.open(server.url, { token: carolToken });
    const other = await SseReader.open(server.url, { token: adminToken });
    try {
      assert.equal(carol.status, 200, JSON.stringify(carol.events));
      await carol.waitForEvent('hello');
      await other.waitForEvent('hello');

      const disable = await runCli(['user', 'disable', 'carol'], env);
      assert.equal(disable.code, 0, disable.stderr);
      await carol.waitForEnd(5000);
      assert.equal(carol.of('shutdown').length, 0, 'closed for the user, not a server stop');

      const refused = await request(`${server.url}/api/v1/me`, { token: carolToken });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'user_disabled');
      const again = await SseReader.open(server.url, { token: carolToken });
      assert.equal(again.status, 403);
      again.close();

      // Only carol: another user's stream is still open and still receives codes.
      assert.equal(other.ended, false);
      const published = await request(`${server.url}/api/v1/codes`, { method: 'POST', token: adminToken, body: { code: 'AFTER-DISABLE' } });
      assert.equal(published.status, 201);
      await other.waitForEvent('code');
      assert.equal(other.of('code')[0]!.data.code, 'AFTER-DISABLE');

      const stats = await request(`${server.url}/api/v1/stats`, { token: adminToken });
      assert.equal(stats.body.closes.user_disabled, 1);
    } finally {
      carol.close();
      other.close();
    }
  });
});

describe('bad configuration stops serve before it starts', () => {
  test('a bad CODECAST_MAX_CONNECTIONS and PORT are both named with what they accept, exit 2', async () => {
    const db = tempDatabase();
    const result = await runCli(
      ['serve'],
      { DATABASE_URL: db.url, CODECAST_MAX_CONNECTIONS: 'lots', PORT: '99999', HOST: '127.0.0.1' },
      10_000,
    );
    assert.deepEqual({ code: result.code, signal: result.signal }, { code: 2, signal: null });
    const lines = result.stderr.split('\n');
    const maxLine = lines.find((line) => line.includes('CODECAST_MAX_CONNECTIONS'));
    const portLine = lines.find((line) => /\bPORT\b/.test(line));
    assert.ok(maxLine, `stderr names CODECAST_MAX_CONNECTIONS:\n${result.stderr}`);
    assert.ok(portLine, `stderr names PORT:\n${result.stderr}`);
    assert.match(maxLine, /lots/);
    assert.match(maxLine, /integer from 1 to 1000000/);
    assert.match(portLine, /99999/);
    assert.match(portLine, /integer from 0 to 65535/);
    assert.doesNotMatch(result.stdout, /listening/i);
    assert.equal(existsSync(db.path), false, 'the database was not even opened');
  });

  test('DATABASE_URL=mysql://x is rejected the same way, and nothing listens', async () => {
    const port = await freePort();
    const result = await runCli(['serve'], { DATABASE_URL: 'mysql://x', PORT: String(port), HOST: '127.0.0.1' }, 10_000);
    assert.deepEqual({ code: result.code, signal: result.signal }, { code: 2, signal: null });
    const line = result.stderr.split('\n').find((l) => l.includes('DATABASE_URL'));
    assert.ok(line, `stderr names DATABASE_URL:\n${result.stderr}`);
    assert.match(line, /mysql:\/\/x/);
    assert.match(line, /sqlite:PATH/);
    assert.doesNotMatch(result.stdout, /listening/i);
    assert.equal(await isListening(port), false);
  });
});

describe('--help', () => {
  test('for the program and for `user add`', async () => {
    const [program, userAdd] = await Promise.all([runCli(['--help'], {}), runCli(['user', 'add', '--help'], {})]);
    assert.equal(program.code, 0, program.stderr);
    assert.match(program.stdout, /Usage: codecast/);
    for (const command of ['serve', 'migrate', 'user', 'token']) {
      assert.match(program.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `--help lists ${command}`);
    }
    assert.equal(userAdd.code, 0, userAdd.stderr);
    assert.match(userAdd.stdout, /Usage: codecast user add .*<name>/);
    assert.match(userAdd.stdout, /--admin/);
    assert.match(userAdd.stdout, /last line/);
  });

  test('`serve --help` lists every setting with its default, from the one settings table', async () => {
    const help = await runCli(['serve', '--help'], {});
    assert.equal(help.code, 0, help.stderr);
    for (const spec of settingsTable) {
      const shown = spec.default === undefined ? `${spec.env} (unset)` : `${spec.env}=${spec.default}`;
      assert.ok(help.stdout.includes(`  ${shown}\n`), `serve --help lists ${shown}`);
    }
    assert.match(help.stdout, /CODECAST_DB_POOL_MAX=10\n\s+PostgreSQL: most connections/);
  });

  test('`bench` hands its options to the harness in bench/', async () => {
    const help = await runCli(['bench', '--help'], {});
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--suite issue/);
    assert.match(help.stdout, /--subscribers N/);
  });
});

describe('one server per SQLite file', () => {
  test('a second server on the same file is refused; the CLI works meanwhile; a killed server leaves no lock', async () => {
    const db = tempDatabase();
    const env = serverEnv(db.url, { CODECAST_ADMIN_TOKEN: 'cli-test-owner-admin-0123456789' });
    const first = await startServe(env);
    try {
      const second = await runCli(['serve'], env);
      assert.equal(second.code, 1, `the second start fails:\n${second.stdout}\n${second.stderr}`);
      assert.match(second.stderr, /another codecast server is running on sqlite:.*codecast\.db/);
      assert.match(second.stderr, /cluster on PostgreSQL and Redis/);
      assert.doesNotMatch(second.stdout, /listening on/);
      const added = await runCli(['user', 'add', 'while-served'], { DATABASE_URL: db.url });
      const token = printedToken(added, 'user add while a server runs');
      assert.equal((await request(`${first.url}/api/v1/me`, { token })).status, 200, 'the running server sees the user');
    } finally {
      first.process.kill('SIGKILL');
      await first.process.waitExit(10_000);
    }
    // Killed outright: the kernel released its lock with the process.
    const third = await startServe(env);
    third.process.kill('SIGTERM');
    assert.equal((await third.process.waitExit(10_000)).code, 0);
    // Stopped gracefully: released too.
    const fourth = await startServe(env);
    fourth.process.kill('SIGTERM');
    assert.equal((await fourth.process.waitExit(10_000)).code, 0);
  });
});
