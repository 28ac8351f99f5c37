/**
 * The OpenAPI document (/api/v1/openapi.json) and its docs page; and the
 * structured logs of a real `codecast serve` process (the production
 * logger, JSON on stdout without a TTY): one line per publish, one per
 * closed connection, no token ever written, LOG_LEVEL honoured, pretty in a
 * terminal.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, ROOT, Spawned, childEnv, isListening, killAll, request, startServe, type ServeProcess } from './support/cli-helpers.js';
import { connectSubscriber } from './support/clients.js';
import { WsRecorder, eventually } from './support/raw-clients.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from './support/server.js';
import { memoryLogger } from './support/memory-log.js';
import { SseReader, waitFor } from './support/sse.js';
import { PublishBody } from '../src/http/schemas.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('OpenAPI document and docs page', () => {
  let t: TestServer;
  let doc: any;

  before(async () => {
    t = await startTestServer();
    const res = await t.api('GET', '/api/v1/openapi.json', { token: null });
    assert.equal(res.status, 200, 'the document needs no token');
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    doc = res.body;
  });
  after(async () => {
    await t?.stop();
  });

  test('is an OpenAPI 3 document with info, paths and the bearer scheme', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.ok(doc.info.title.length > 0);
    assert.equal(doc.info.version, VERSION);
    assert.equal(typeof doc.paths, 'object');
    const schemes = Object.values<any>(doc.components?.securitySchemes ?? {});
    assert.ok(
      schemes.some((s) => s.type === 'http' && s.scheme === 'bearer'),
      'a bearer security scheme',
    );
    assert.ok(Array.isArray(doc.security) && doc.security.length > 0, 'security applies by default');
  });

  test('lists every /api/v1 route, each with a summary and responses', () => {
    const expected: Record<string, string[]> = {
      '/api/v1/codes': ['get', 'post'],
      '/api/v1/codes/{id}': ['delete', 'get'],
      '/api/v1/codes/{id}/ack': ['post'],
      '/api/v1/me': ['get'],
      '/api/v1/users': ['get', 'post'],
      '/api/v1/users/{username}': ['get', 'patch'],
      '/api/v1/users/{username}/tokens': ['post'],
      '/api/v1/tokens/{id}': ['delete'],
      '/api/v1/settings': ['get', 'put'],
      '/api/v1/stats': ['get'],
      '/api/v1/audit': ['get'],
      '/api/v1/stream': ['get'],
      '/api/v1/stream/{connectionId}/pong': ['post'],
    };
    const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
    const actual: Record<string, string[]> = {};
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      actual[path] = Object.keys(item)
        .filter((k) => methods.includes(k))
        .sort();
      for (const method of actual[path]!) {
        const op = item[method];
        assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${method.toUpperCase()} ${path} has a summary`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method.toUpperCase()} ${path} has responses`);
      }
    }
    assert.deepEqual(actual, expected);
  });

  test('path parameters are declared for the templated paths', () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries<any>(item)) {
        const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
        assert.deepEqual(declared.sort(), [...names].sort(), `${method.toUpperCase()} ${path} path parameters`);
      }
    }
  });

  test('the publish body is the schema validation uses: the same fields, required code, no extra fields', async () => {
    const body = doc.paths['/api/v1/codes'].post.requestBody;
    assert.ok(body, 'POST /codes has a request body');
    const schema = body.content['application/json'].schema;
    assert.equal(schema.type, 'object');
    assert.deepEqual(Object.keys(schema.properties).sort(), ['code', 'message', 'source', 'ttlSeconds', 'type', 'value']);
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(PublishBody.properties).sort());
    assert.deepEqual(schema.required, ['code']);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.code.type, 'string');
    assert.equal(typeof schema.properties.code.maxLength, 'number');
    assert.equal(schema.properties.code.maxLength, (PublishBody.properties.code as { maxLength?: number }).maxLength);
    assert.equal(schema.properties.ttlSeconds.type, 'integer');
    assert.equal(schema.properties.ttlSeconds.minimum, 1);

    // And validation behaves as the document says.
    const extra = await t.api('POST', '/api/v1/codes', { body: { code: 'OA-EXTRA', colour: 'red' } });
    assert.equal(extra.status, 400);
    const tooLong = await t.api('POST', '/api/v1/codes', { body: { code: 'x'.repeat(schema.properties.code.maxLength + 1) } });
    assert.equal(tooLong.status, 400);
    const ok = await t.api('POST', '/api/v1/codes', {
      body: { code: 'OA-OK', value: null, type: 'drop', message: 'm', ttlSeconds: 1, source: 'oa' },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('the other request bodies are documented closed too (users, settings)', () => {
    for (const [path, method] of [
      ['/api/v1/users', 'post'],
      ['/api/v1/users/{username}', 'patch'],
      ['/api/v1/users/{username}/tokens', 'post'],
      ['/api/v1/settings', 'put'],
    ] as const) {
      const schema = doc.paths[path][method].requestBody?.content?.['application/json']?.schema;
      assert.ok(schema, `${method.toUpperCase()} ${path} has a JSON body schema`);
      assert.equal(schema.additionalProperties, false, `${method.toUpperCase()} ${path} refuses unknown fields`);
    }
    assert.deepEqual(doc.paths['/api/v1/users'].post.requestBody.content['application/json'].schema.required, ['username']);
  });

  test('leaves out /metrics, health, the pages, the docs and the document itself', () => {
    const paths = Object.keys(doc.paths);
    for (const path of paths) assert.ok(path.startsWith('/api/v1/'), `${path} is under /api/v1`);
    for (const hidden of ['/metrics', '/healthz', '/readyz', '/', '/admin', '/api/v1/openapi.json']) {
      assert.ok(!paths.includes(hidden), `${hidden} is not listed`);
    }
    assert.ok(!paths.some((p) => p.startsWith('/api/v1/docs')), 'the docs page is not listed');
  });

  test('/api/v1/docs answers an HTML page that loads the document', async () => {
    const response = await fetch(`${t.url}/api/v1/docs`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const html = await response.text();
    assert.match(html, /<html/i);
    assert.match(html, /swagger/i);
    // The page's initializer points at a document that is served.
    const init = await fetch(`${t.url}/api/v1/docs/static/swagger-initializer.js`);
    assert.equal(init.status, 200);
    const script = await init.text();
    const json = await fetch(`${t.url}/api/v1/docs/json`);
    assert.equal(json.status, 200);
    assert.deepEqual(((await json.json()) as { paths: unknown }).paths, doc.paths);
    assert.match(script, /url|spec/);
  });
});

// ---------------------------------------------------------------------------
// Logs of a real `codecast serve`.

interface LogLine {
  readonly raw: string;
  readonly entry: Record<string, any>;
}

/** The JSON log lines of a serve process's stdout so far. */
function logLines(p: Spawned): LogLine[] {
  const lines: LogLine[] = [];
  for (const raw of p.stdout.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try {
      lines.push({ raw, entry: JSON.parse(raw) as Record<string, any> });
    } catch {
      // a partial line still being written
    }
  }
  return lines;
}

function byMessage(p: Spawned, msg: string): Record<string, any>[] {
  return logLines(p)
    .map((l) => l.entry)
    .filter((e) => e.msg === msg);
}

const dirs: string[] = [];
function serveEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-logs-'));
  dirs.push(dir);
  return {
    DATABASE_URL: `sqlite:${join(dir, 'codecast.db')}`,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CODECAST_ADMIN_TOKEN: ADMIN_TOKEN,
    ...extra,
  };
}

async function createUser(server: ServeProcess, username: string): Promise<{ id: number; token: string; tokenId: number }> {
  const res = await request(`${server.url}/api/v1/users`, { method: 'POST', token: ADMIN_TOKEN, body: { username } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.user.id, token: res.body.token.token, tokenId: res.body.token.id };
}

async function publish(server: ServeProcess, code: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}/api/v1/codes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ code }),
  });
  return { status: response.status, body: await response.json() };
}

async function stopServe(server: ServeProcess): Promise<void> {
  server.process.kill('SIGTERM');
  await server.process.waitExit(10_000, 'serve to stop on SIGTERM');
}

describe('logs of codecast serve (LOG_LEVEL=info, no TTY: JSON lines)', () => {
  let server: ServeProcess;
  let alice: { id: number; token: string; tokenId: number };

  before(async () => {
    server = await startServe(serveEnv());
    alice = await createUser(server, 'log-alice');
  });
  after(async () => {
    await killAll();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  test('every stdout line but the banner is a JSON log line with level, time and msg', async () => {
    await waitFor(() => logLines(server.process).length > 0, 'a log line');
    const banner =
      /^(codecast is listening on | {2}(subscriber page|admin page|API|SSE stream|database) |Created the first admin|Its token is the one in )/;
    const others = server.process.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));
    for (const line of others) assert.match(line, banner, 'a stdout line that is not JSON is part of the banner');
    for (const { entry } of logLines(server.process)) {
      assert.equal(typeof entry.level, 'number');
      assert.equal(typeof entry.time, 'number');
      assert.equal(typeof entry.msg, 'string');
    }
  });

  test('a publish writes exactly one "code published" line with id, code, audience and fanOutMs', async () => {
    const reader = await SseReader.open(server.url, { token: alice.token });
    try {
      await reader.waitForEvent('hello');
      const res = await publish(server, 'LOG-ONE');
      assert.equal(res.status, 201);
      const id = res.body.code.id;
      await waitFor(() => byMessage(server.process, 'code published').some((e) => e.id === id), 'the publish line');
      // A duplicate (409) and the repeat of an idempotent publish write no publish line.
      assert.equal((await publish(server, 'LOG-ONE')).status, 409);
      const keyed = await publish(server, 'LOG-KEYED', { 'idempotency-key': 'log-key' });
      assert.equal(keyed.status, 201);
      assert.equal((await publish(server, 'LOG-KEYED', { 'idempotency-key': 'log-key' })).status, 200);
      await waitFor(() => byMessage(server.process, 'code published').some((e) => e.id === keyed.body.code.id), 'the keyed publish line');
      // Let any stray line arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 200));

      const lines = byMessage(server.process, 'code published');
      const mine = lines.filter((e) => e.id === id);
      assert.equal(mine.length, 1, JSON.stringify(lines));
      const line = mine[0]!;
      assert.equal(line.code, 'LOG-ONE');
      assert.equal(line.audience, 1);
      assert.equal(typeof line.fanOutMs, 'number');
      assert.ok(line.fanOutMs >= 0);
      assert.equal(line.level, 30);
      assert.equal(lines.filter((e) => e.code === 'LOG-ONE').length, 1, 'the duplicate wrote no publish line');
      assert.equal(lines.filter((e) => e.code === 'LOG-KEYED').length, 1, 'the idempotent repeat wrote no publish line');
    } finally {
      reader.close();
    }
  });

  test('closing a stream writes exactly one "connection closed" line with reason client_closed and the transport', async () => {
    const reader = await SseReader.open(server.url, { token: alice.token });
    await reader.waitForEvent('hello');
    const sseId = reader.connectionId;
    reader.close();
    const ws = await WsRecorder.open(`${server.url.replace(/^http/, 'ws')}/api/v1/ws`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    await ws.waitFor('hello');
    const wsId = ws.of('hello')[0].connectionId;
    ws.ws.close(1000);
    await ws.waitForClose();

    const closedLines = () => byMessage(server.process, 'connection closed');
    await waitFor(
      () => closedLines().some((e) => e.connectionId === sseId) && closedLines().some((e) => e.connectionId === wsId),
      'both close lines',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const [id, transport] of [
      [sseId, 'sse'],
      [wsId, 'ws'],
    ] as const) {
      const mine = closedLines().filter((e) => e.connectionId === id);
      assert.equal(mine.length, 1, `one close line for the ${transport} connection: ${JSON.stringify(mine)}`);
      const line = mine[0]!;
      assert.equal(line.reason, 'client_closed');
      assert.equal(line.transport, transport);
      assert.equal(line.userId, alice.id);
      assert.equal(typeof line.openMs, 'number');
      assert.ok(line.openMs >= 0);
    }
  });

  test('a user disabled while connected: the close line says user_disabled', async () => {
    const bob = await createUser(server, 'log-bob');
    const reader = await SseReader.open(server.url, { token: bob.token });
    try {
      await reader.waitForEvent('hello');
      const id = reader.connectionId;
      const res = await request(`${server.url}/api/v1/users/log-bob`, { method: 'PATCH', token: ADMIN_TOKEN, body: { disabled: true } });
      assert.equal(res.status, 200);
      await waitFor(() => byMessage(server.process, 'connection closed').some((e) => e.connectionId === id), 'the close line');
      const line = byMessage(server.process, 'connection closed').find((e) => e.connectionId === id)!;
      assert.equal(line.reason, 'user_disabled');
      assert.equal(line.transport, 'sse');
    } finally {
      reader.close();
    }
  });

  test('no token is ever written: ?token= URLs are redacted, headers are not logged', async () => {
    const carol = await createUser(server, 'log-carol');
    const extra = await request(`${server.url}/api/v1/users/log-carol/tokens`, {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { label: 'second' },
    });
    assert.equal(extra.status, 201);
    const second: string = extra.body.token.token;
    const unknown = 'cc_never-issued-token-abcdefghijklmnopqrstuvwx';

    // SSE with ?token= (the EventSource way), with the header, with an unknown ?token=.
    const byQuery = await SseReader.open(server.url, { query: `token=${encodeURIComponent(carol.token)}` });
    const byHeader = await SseReader.open(server.url, { token: second });
    const refused = await SseReader.open(server.url, { query: `token=${encodeURIComponent(unknown)}&since=0` });
    assert.equal(refused.status, 401);
    await byQuery.waitForEvent('hello');
    await byHeader.waitForEvent('hello');
    // WebSocket with ?token= and Socket.IO with auth.token.
    const ws = await WsRecorder.open(`${server.url.replace(/^http/, 'ws')}/api/v1/ws?token=${encodeURIComponent(carol.token)}`);
    await ws.waitFor('hello');
    const io = await connectSubscriber('socketio', server.url, { token: second });
    assert.equal(io.status, 'open');
    // A pong and an ack with the bearer header; a request with a wrong bearer.
    assert.equal(
      (
        await fetch(`${server.url}/api/v1/stream/${byHeader.connectionId}/pong`, {
          method: 'POST',
          headers: { authorization: `Bearer ${second}` },
        })
      ).status,
      204,
    );
    assert.equal((await request(`${server.url}/api/v1/me`, { token: unknown })).status, 401);
    // The user's token is revoked while streams are open (closes with token_revoked).
    assert.equal(
      (await request(`${server.url}/api/v1/tokens/${extra.body.token.id}`, { method: 'DELETE', token: ADMIN_TOKEN })).status,
      200,
    );
    await byHeader.waitForEnd();

    byQuery.close();
    ws.end();
    await io.close();
    await waitFor(() => byMessage(server.process, 'connection closed').length >= 6, 'the close lines');

    // Request logging saw the stream URL, with the token replaced.
    const urls = logLines(server.process)
      .map((l) => l.entry.req?.url as string | undefined)
      .filter((u): u is string => typeof u === 'string');
    assert.ok(
      urls.some((u) => u.startsWith('/api/v1/stream?token=[redacted]')),
      `a redacted stream URL was logged: ${JSON.stringify(urls)}`,
    );
    assert.ok(
      urls.some((u) => u.includes('token=[redacted]&since=0')),
      'the refused one too',
    );

    await stopServe(server);
    const everything = server.process.stdout + server.process.stderr;
    for (const [what, token] of [
      ['the admin token', ADMIN_TOKEN],
      ["a user's first token", carol.token],
      ["a user's second token", second],
      ["alice's token", alice.token],
      ['an unknown token', unknown],
    ] as const) {
      assert.ok(!everything.includes(token), `${what} is not in the output`);
      // Not even a recognisable part of it (the part after the prefix).
      assert.ok(!everything.includes(token.slice(-24)), `no part of ${what} is in the output`);
    }
    assert.doesNotMatch(everything, /Bearer /i, 'no Authorization header value');
    assert.doesNotMatch(everything, /"authorization"/i, 'no Authorization header');
  });
});

describe('logs through a logger given to startServer (in memory)', () => {
  // The redaction of `?token=` lives in createLogger's `req` serializer
  // (src/logging.ts), so it holds for `codecast serve` (tested above) but
  // not for a logger handed to startServer({logger}) — Fastify then logs
  // request URLs with its default serializer, token included. Kept as a
  test('a ?token= stream URL is not written by a caller-supplied pino logger', async () => {
    const { logger, lines } = memoryLogger();
    const server = await startTestServer({}, { logger });
    try {
      const create = await request(`${server.url}/api/v1/users`, { method: 'POST', token: ADMIN_TOKEN, body: { username: 'mem-user' } });
      const token: string = create.body.token.token;
      const reader = await SseReader.open(server.url, { query: `token=${encodeURIComponent(token)}` });
      await reader.waitForEvent('hello');
      reader.close();
      await waitFor(() => lines.some((l) => l.includes('connection closed')), 'the close line');
      assert.ok(
        lines.some((l) => l.includes('"msg":"incoming request"')),
        'requests are logged',
      );
      assert.ok(!lines.join('').includes(token), 'the token is not in the log');
    } finally {
      await server.stop();
    }
  });
});

describe('logs: LOG_LEVEL and the terminal', () => {
  after(async () => {
    await killAll();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  test('LOG_LEVEL=warn writes no info lines (no request, publish or close lines)', async () => {
    const server = await startServe(serveEnv({ LOG_LEVEL: 'warn' }));
    const bob = await createUser(server, 'quiet-bob');
    const reader = await SseReader.open(server.url, { token: bob.token });
    await reader.waitForEvent('hello');
    assert.equal((await publish(server, 'QUIET')).status, 201);
    await reader.waitForEvent('code');
    reader.close();
    await stopServe(server);
    const lines = logLines(server.process);
    assert.deepEqual(
      lines.filter((l) => l.entry.level < 40).map((l) => l.entry.msg),
      [],
      'nothing below warn',
    );
    assert.match(server.process.stdout, /listening on/, 'the banner is not a log line and is still printed');
  });

  test('in a terminal the log lines are pretty, not JSON', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('util-linux `script` is not available to give the server a terminal');
      return;
    }
    const env = serveEnv();
    // `script` runs serve on a pseudo-terminal; its output comes back here.
    const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} serve`, '/dev/null'], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const p = new Spawned(child);
    let port = 0;
    try {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
      const plain = () => p.stdout.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
      await waitFor(() => /listening on \S+:(\d+)/.test(plain()), 'the banner', 15_000);
      port = Number(plain().match(/listening on \S+:(\d+)/)![1]);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/codes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code: 'PRETTY-1' }),
      });
      assert.equal(res.status, 201);
      await res.text();
      await waitFor(() => /code published/.test(plain()), 'the pretty publish line', 10_000);
      const line = plain()
        .split('\n')
        .find((l) => l.includes('code published'))!;
      assert.ok(!line.trimStart().startsWith('{'), `not a JSON line: ${line}`);
      assert.match(line, /INFO/);
      assert.match(plain(), /code: "PRETTY-1"/);
    } finally {
      // Ending `script` hangs up its terminal, which ends the server on it.
      p.kill('SIGTERM');
      await p.waitExit(10_000, 'script to end');
    }
    if (port > 0) await eventually(async () => !(await isListening(port)), `the server under script (port ${port}) to be gone`, 10_000);
  });
});
