/**
 * `codecast publish` and `codecast listen` (the built binary, as child
 * processes without a TTY) against a real server: what they print, their
 * exit codes, and that `listen` resumes across a server restart with
 * Last-Event-ID without gaps or repeats.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, killAll, runCli, spawnCli, type Spawned } from './support/cli-helpers.js';
import { SseReader, waitFor } from './support/sse.js';
import { startTestServer, type TestServer } from './support/server.js';

const FAST = { CODECAST_SSE_RETRY_MS: '300', CODECAST_SHUTDOWN_RECONNECT_MS: '300' };

function stdoutLines(p: { stdout: string }): string[] {
  return p.stdout.split('\n').filter((line) => line !== '');
}

/** Waits until a spawned listener has printed `count` lines on stdout. */
async function waitForLines(p: Spawned, count: number, timeoutMs = 10_000): Promise<string[]> {
  await waitFor(() => stdoutLines(p).length >= count || p.exit !== undefined, `${count} line(s) from listen`, timeoutMs).catch(
    (error: Error) => {
      throw new Error(`${error.message}\nstdout:\n${p.stdout}\nstderr:\n${p.stderr}`);
    },
  );
  const lines = stdoutLines(p);
  if (lines.length < count)
    throw new Error(`listen exited (${JSON.stringify(p.exit)}) after ${lines.length} line(s)\nstdout:\n${p.stdout}\nstderr:\n${p.stderr}`);
  return lines;
}

/** Waits until a listener said on stderr that it is connected (the n-th time). */
async function waitConnected(p: Spawned, times = 1, timeoutMs = 10_000): Promise<void> {
  const count = () => (p.stderr.match(/connected to /g) ?? []).length;
  await waitFor(() => count() >= times || p.exit !== undefined, `listen to connect (${times})`, timeoutMs).catch((error: Error) => {
    throw new Error(`${error.message}\nstderr:\n${p.stderr}`);
  });
  if (count() < times) throw new Error(`listen exited (${JSON.stringify(p.exit)})\nstderr:\n${p.stderr}`);
}

async function stopListener(p: Spawned): Promise<void> {
  p.kill('SIGTERM');
  await p.waitExit(5000, 'listen to stop on SIGTERM');
}

/** The codes as the API lists them (admin, including revoked). */
async function allCodes(t: TestServer): Promise<any[]> {
  const res = await t.api('GET', '/api/v1/codes?all=true&limit=1000');
  assert.equal(res.status, 200);
  return res.body.codes;
}

describe('codecast publish', () => {
  let t: TestServer;
  let reader: SseReader;
  let env: Record<string, string>;

  before(async () => {
    // A minute's dedup window: the duplicate test's two CLI runs may start more than 2 s apart on a busy machine.
    t = await startTestServer({ ...FAST, CODECAST_DEDUP_SECONDS: '60' });
    env = { CODECAST_URL: t.url, CODECAST_TOKEN: t.adminToken };
    const { token } = await t.createUser('pub-watcher');
    reader = await SseReader.open(t.url, { token });
    await reader.waitForEvent('hello');
  });
  after(async () => {
    reader?.close();
    await killAll();
    await t?.stop();
  });

  test('publishes with every option and prints "published #N CODE to K connection(s)"', async () => {
    const result = await runCli(
      ['publish', 'CLI-FIRST', '--value', '2.5', '--type', 'drop', '--message', 'hello there', '--ttl', '120'],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    const match = result.stdout.match(/^published #(\d+) CLI-FIRST to 1 connection\(s\)\n$/);
    assert.ok(match, `stdout: ${JSON.stringify(result.stdout)}`);
    const id = Number(match[1]);
    const stored = (await t.api('GET', `/api/v1/codes/${id}`)).body.code;
    assert.equal(stored.code, 'CLI-FIRST');
    assert.equal(stored.value, 2.5);
    assert.equal(stored.type, 'drop');
    assert.equal(stored.message, 'hello there');
    assert.equal(stored.source, 'cli');
    const ttl = (Date.parse(stored.expiresAt) - Date.parse(stored.publishedAt)) / 1000;
    assert.equal(ttl, 120);
    await waitFor(() => reader.codeIds().includes(id), 'the subscriber to get it');
  });

  test('--url and --token win over CODECAST_URL and CODECAST_TOKEN; --source is sent', async () => {
    const result = await runCli(['publish', 'CLI-FLAGS', '--url', t.url, '--token', t.adminToken, '--source', 'cron'], {
      CODECAST_URL: 'http://127.0.0.1:1',
      CODECAST_TOKEN: 'cc_wrong-token-000000000000000000000000000',
    });
    assert.equal(result.code, 0, result.stderr);
    const id = Number(result.stdout.match(/^published #(\d+) CLI-FLAGS /)?.[1]);
    assert.ok(id > 0, result.stdout);
    assert.equal((await t.api('GET', `/api/v1/codes/${id}`)).body.code.source, 'cron');
  });

  test('--json prints the server answer as one JSON line', async () => {
    const result = await runCli(['publish', 'CLI-JSON', '--json', '--value', '7'], env);
    assert.equal(result.code, 0, result.stderr);
    const lines = stdoutLines(result);
    assert.equal(lines.length, 1, result.stdout);
    const answer = JSON.parse(lines[0]!);
    assert.equal(answer.code.code, 'CLI-JSON');
    assert.equal(answer.code.value, 7);
    assert.equal(typeof answer.code.id, 'number');
    assert.equal(answer.audience.connections, 1);
    assert.deepEqual(answer.audience.byTransport, { sse: 1, ws: 0, socketio: 0 });
  });

  test('a duplicate fails with exit 1 and a readable message, not raw JSON', async () => {
    const first = await runCli(['publish', 'CLI-DUP'], env);
    assert.equal(first.code, 0, first.stderr);
    const id = Number(first.stdout.match(/#(\d+)/)?.[1]);
    const second = await runCli(['publish', 'CLI-DUP'], env);
    assert.equal(second.code, 1);
    assert.equal(second.stdout, '');
    assert.match(second.stderr, /^codecast: not published: .+\(409 duplicate_code\)\n$/);
    assert.doesNotMatch(second.stderr, /[{}]/, 'no JSON in the message');
    const api = await t.api('POST', '/api/v1/codes', { body: { code: 'CLI-DUP' } });
    assert.equal(api.status, 409);
    assert.ok(second.stderr.includes(api.body.message), `stderr carries the server's message: ${api.body.message}`);
    assert.equal((await allCodes(t)).filter((c) => c.code === 'CLI-DUP').length, 1);
    assert.equal(api.body.id, id);
  });

  test('--value abc (and a fractional --ttl) fail with exit 2 before anything is sent', async () => {
    const before = (await allCodes(t)).length;
    const value = await runCli(['publish', 'CLI-BADVALUE', '--value', 'abc'], env);
    assert.equal(value.code, 2);
    assert.match(value.stderr, /--value must be a number, not "abc"/);
    assert.equal(value.stdout, '');
    const ttl = await runCli(['publish', 'CLI-BADTTL', '--ttl', '1.5'], env);
    assert.equal(ttl.code, 2);
    assert.match(ttl.stderr, /--ttl must be a whole number/);
    assert.equal((await allCodes(t)).length, before, 'nothing was published');
  });

  test('no token at all fails with exit 2 and says how to give one', async () => {
    const result = await runCli(['publish', 'CLI-NOTOKEN'], { CODECAST_URL: t.url });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--token/);
    assert.match(result.stderr, /CODECAST_TOKEN/);
    assert.equal((await allCodes(t)).filter((c) => c.code === 'CLI-NOTOKEN').length, 0);
  });

  test('a user (not admin) token fails with exit 1 and the forbidden message', async () => {
    const { token } = await t.createUser('pub-plain');
    const result = await runCli(['publish', 'CLI-FORBIDDEN'], { CODECAST_URL: t.url, CODECAST_TOKEN: token });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^codecast: not published: .+\(403 forbidden\)\n$/);
  });

  test('an unreachable server fails with exit 1 and names the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['publish', 'CLI-NOWHERE'], { CODECAST_URL: url, CODECAST_TOKEN: t.adminToken });
    assert.equal(result.code, 1);
    assert.ok(result.stderr.includes(`cannot reach ${url}`), result.stderr);
  });

  test('--idempotency-key twice publishes one code and says so the second time', async () => {
    const args = ['publish', 'CLI-IDEM', '--value', '3', '--idempotency-key', 'retry-key-1'];
    const first = await runCli(args, env);
    assert.equal(first.code, 0, first.stderr);
    const id = Number(first.stdout.match(/^published #(\d+) CLI-IDEM to 1 connection\(s\)\n$/)?.[1]);
    assert.ok(id > 0, first.stdout);
    const second = await runCli(args, env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, `published #${id} CLI-IDEM to 1 connection(s) (already published under this Idempotency-Key)\n`);
    assert.equal((await allCodes(t)).filter((c) => c.code === 'CLI-IDEM').length, 1);
    // The subscriber saw it once.
    await waitFor(() => reader.codeIds().includes(id), 'the subscriber to get it');
    const later = await runCli(['publish', 'CLI-AFTER-IDEM'], env);
    const laterId = Number(later.stdout.match(/#(\d+)/)?.[1]);
    await waitFor(() => reader.codeIds().includes(laterId), 'a later code');
    assert.equal(reader.codeIds().filter((x) => x === id).length, 1);
    // The same key with another body is refused, readably.
    const reused = await runCli(['publish', 'CLI-IDEM-OTHER', '--idempotency-key', 'retry-key-1'], env);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /\(422 idempotency_key_reused\)/);
  });

  test('publish --help and listen --help describe every flag and the environment fallbacks', async () => {
    const publishHelp = await runCli(['publish', '--help'], {});
    assert.equal(publishHelp.code, 0);
    for (const flag of [
      '--value',
      '--type',
      '--message',
      '--ttl',
      '--source',
      '--idempotency-key',
      '--url',
      '--token',
      '--json',
      'CODECAST_URL',
      'CODECAST_TOKEN',
    ]) {
      assert.ok(publishHelp.stdout.includes(flag), `publish --help mentions ${flag}:\n${publishHelp.stdout}`);
    }
    const listenHelp = await runCli(['listen', '--help'], {});
    assert.equal(listenHelp.code, 0);
    for (const flag of ['--since', '--url', '--token', '--json', 'CODECAST_URL', 'CODECAST_TOKEN']) {
      assert.ok(listenHelp.stdout.includes(flag), `listen --help mentions ${flag}:\n${listenHelp.stdout}`);
    }
    const top = await runCli(['--help'], {});
    assert.match(top.stdout, /^\s+publish\b/m);
    assert.match(top.stdout, /^\s+listen\b/m);
  });

  test('--help works on every command', async () => {
    const commands = [
      ['serve'],
      ['migrate'],
      ['user', 'add'],
      ['user', 'list'],
      ['user', 'disable'],
      ['user', 'enable'],
      ['token', 'create'],
      ['token', 'revoke'],
      ['publish'],
      ['listen'],
    ];
    const results = await Promise.all(commands.map((c) => runCli([...c, '--help'], {})));
    results.forEach((result, i) => {
      const name = commands[i]!.join(' ');
      assert.equal(result.code, 0, `${name} --help exits 0: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: codecast ${name}\\b`, 'm'), `${name} --help prints its usage`);
    });
  });
});

describe('codecast listen', () => {
  let t: TestServer;
  let token: string;
  let env: Record<string, string>;

  before(async () => {
    t = await startTestServer(FAST);
    token = (await t.createUser('listener')).token;
    env = { CODECAST_URL: t.url, CODECAST_TOKEN: token };
  });
  after(async () => {
    await killAll();
    await t?.stop();
  });

  test('prints each code live, one line each, and stops cleanly on SIGINT', async () => {
    const p = spawnCli(['listen'], env);
    try {
      await waitConnected(p);
      assert.equal(p.stdout, '', 'no replay without --since');
      const a = await t.publish('LIVE-A', { value: 5, type: 'drop', message: 'say "hi"', ttlSeconds: 300 });
      const b = await t.publish('LIVE-B');
      const lines = await waitForLines(p, 2);
      const codeA = (await t.api('GET', `/api/v1/codes/${a.id}`)).body.code;
      assert.equal(lines[0], `#${a.id}  LIVE-A  value=5  type=drop  expires=${codeA.expiresAt}  "say \\"hi\\""`);
      assert.equal(lines[1], `#${b.id}  LIVE-B`);
      // A revoke is a status line on stderr, not a code on stdout.
      assert.equal((await t.api('DELETE', `/api/v1/codes/${b.id}`)).status, 200);
      await waitFor(() => p.stderr.includes(`code #${b.id} was revoked`), 'the revoke notice');
      assert.equal(stdoutLines(p).length, 2);
    } finally {
      p.kill('SIGINT');
    }
    const exit = await p.waitExit(5000, 'listen to stop on SIGINT');
    assert.equal(exit.code, 0);
  });

  test('--since replays the codes after that id, then goes on live', async () => {
    const ids = [];
    for (const code of ['SINCE-1', 'SINCE-2', 'SINCE-3']) ids.push((await t.publish(code)).id);
    const p = spawnCli(['listen', '--since', String(ids[0])], env);
    try {
      const replayed = await waitForLines(p, 2);
      assert.deepEqual(replayed, [`#${ids[1]}  SINCE-2`, `#${ids[2]}  SINCE-3`]);
      await waitConnected(p);
      const live = await t.publish('SINCE-4');
      const lines = await waitForLines(p, 3);
      assert.deepEqual(lines, [`#${ids[1]}  SINCE-2`, `#${ids[2]}  SINCE-3`, `#${live.id}  SINCE-4`]);
    } finally {
      await stopListener(p);
    }
  });

  test('--since that is not a number fails with exit 2', async () => {
    const result = await runCli(['listen', '--since', 'yesterday'], env);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--since must be a code id/);
  });

  test('--json prints one JSON object per line: the code as the API has it, and revokes', async () => {
    const p = spawnCli(['listen', '--json', '--url', t.url, '--token', token], { CODECAST_URL: 'http://127.0.0.1:1' });
    try {
      await waitConnected(p);
      const a = await t.publish('JSON-A', { value: 1.5, message: 'line one\nline two' });
      const b = await t.publish('JSON-B', { type: 'promo' });
      assert.equal((await t.api('DELETE', `/api/v1/codes/${a.id}`)).status, 200);
      const lines = await waitForLines(p, 3);
      const objects = lines.map((line) => JSON.parse(line));
      const listed = (await t.api('GET', `/api/v1/codes?since=${a.id - 1}`, { token })).body.codes;
      const listedB = listed.find((c: any) => c.id === b.id);
      assert.equal(objects[0].id, a.id);
      assert.equal(objects[0].code, 'JSON-A');
      assert.equal(objects[0].value, 1.5);
      assert.equal(objects[0].message, 'line one\nline two');
      assert.deepEqual(objects[1], listedB);
      assert.deepEqual(objects[2], { revoked: a.id });
      assert.equal(lines.length, 3);
    } finally {
      await stopListener(p);
    }
  });

  test('an unknown token: exit 1 with "refused"', async () => {
    const result = await runCli(
      ['listen'],
      { CODECAST_URL: t.url, CODECAST_TOKEN: 'cc_unknown-token-0000000000000000000000000000' },
      10_000,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refused \(401\)/);
    assert.equal(result.stdout, '');
  });

  test('a disabled user: exit 1 with "refused (403)"', async () => {
    const { token: disabledToken } = await t.createUser('listener-disabled');
    assert.equal((await t.api('PATCH', '/api/v1/users/listener-disabled', { body: { disabled: true } })).status, 200);
    const result = await runCli(['listen'], { CODECAST_URL: t.url, CODECAST_TOKEN: disabledToken }, 10_000);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refused \(403\)/);
  });

  test('a token revoked while listening: the stream is closed, the reconnect is refused, exit 1', async () => {
    const user = await t.createUser('listener-revoked');
    const p = spawnCli(['listen'], { CODECAST_URL: t.url, CODECAST_TOKEN: user.token });
    try {
      await waitConnected(p);
      assert.equal((await t.api('DELETE', `/api/v1/tokens/${user.tokenId}`)).status, 200);
      const exit = await p.waitExit(10_000, 'listen to give up after the revoke');
      assert.equal(exit.code, 1);
      assert.match(p.stderr, /refused \(401\)/);
    } finally {
      p.kill();
    }
  });

  test('a missing token fails with exit 2', async () => {
    const result = await runCli(['listen'], { CODECAST_URL: t.url });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /CODECAST_TOKEN/);
  });
});

describe('codecast listen across a server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-cli-restart-'));
  let first: TestServer | undefined;
  let second: TestServer | undefined;

  after(async () => {
    await killAll();
    await first?.stop();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('resumes with Last-Event-ID on a new server at the same URL: every code once, in order', async () => {
    // The listener waits a second after the shutdown notice, long enough for
    // the new server to start and take codes the listener must catch up on.
    const env = { ...FAST, CODECAST_SHUTDOWN_RECONNECT_MS: '1500' };
    first = await startTestServer(env, { dir });
    const { token } = await first.createUser('restart-listener');
    const url = first.url;
    const port = first.server.port;
    const p = spawnCli(['listen'], { CODECAST_URL: url, CODECAST_TOKEN: token });
    await waitConnected(p);
    const expected: string[] = [];
    for (const code of ['R-1', 'R-2']) expected.push(`#${(await first.publish(code)).id}  ${code}`);
    await waitForLines(p, 2);

    await first.stop();
    first = undefined;
    await waitFor(() => p.stderr.includes('restarting'), 'the shutdown notice');
    second = await startTestServer({ ...env, PORT: String(port) }, { dir });
    assert.equal(second.url, url, 'the same URL');
    // Published before the listener is back: it must get them by replay.
    for (const code of ['R-3', 'R-4']) expected.push(`#${(await second.publish(code)).id}  ${code}`);
    await waitConnected(p, 2, 15_000);
    for (const code of ['R-5', 'R-6']) expected.push(`#${(await second.publish(code)).id}  ${code}`);
    const lines = await waitForLines(p, 6, 15_000);
    assert.deepEqual(lines, expected);
    assert.equal(p.exit, undefined, 'still listening');
    // Normally the listener is back after were published (its
    // hello then names R-4 or later as the newest code): they came by replay.
    const hellos = [...p.stderr.matchAll(/connected to \S+ \(newest code #(\d+)\)/g)].map((m) => Number(m[1]));
    assert.equal(hellos.length, 2, p.stderr);
    const r4 = Number(expected[3]!.match(/^#(\d+)/)![1]);
    if (hellos[1]! >= r4) {
      const stats = second.server.stats() as any;
      assert.ok(stats.deliveries.replayed >= 2, `R-3 and R-4 came by replay (replayed ${stats.deliveries.replayed})`);
    }
    assert.doesNotMatch(p.stderr, /may have been missed/);
    // One more moment: nothing is printed twice later.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(stdoutLines(p), expected);
    await stopListener(p);
  });
});
