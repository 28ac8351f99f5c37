// Issue 9, "Input and secrets": no token in the request log or in an echoed
// path, whatever form carries it; no secret in a configuration error; the
// metrics token held to the same failure budget as every other token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ConfigError, describeDatabase, loadConfig, settingsTable } from '../src/config/index.js';
import { connectSubscriber, TRANSPORT_KINDS } from './support/clients.js';
import { backend, JWT_SECRET, nowSeconds } from './support/jwt.js';
import { startTestServer, type TestServer } from './support/server.js';
import { memoryLogger } from './support/memory-log.js';
import { SseReader, waitFor } from './support/sse.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

describe('tokens never reach the request log or an echoed path', () => {
  const { logger, lines } = memoryLogger();
  let server: TestServer;
  let userToken: string;
  before(async () => {
    server = await startTestServer({}, { logger });
    userToken = (await server.createUser('redact-user')).token;
  });
  after(async () => {
    await server.stop();
  });

  /** A request written by hand, so the URL reaches the server exactly as given. */
  function rawGet(path: string): Promise<string> {
    const { port } = new URL(server.url);
    return new Promise((resolve, reject) => {
      let answer = '';
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  test('every form that carries a token is redacted in the log and in 404 messages', async () => {
    const forms = (secret: string) => [
      `/api/v1/codes?a=1;token=${secret}`,
      `/api/v1/stream;token=${secret}`,
      `/api/v1/stream;token=${secret}?since=0`,
      `/api/v1/stream?since=0&TOKEN=${secret}`,
      `/api/v1/stream?%74oken=${secret}`,
      `/api/v1/stream?%74%6F%6B%65%6E=${secret}`,
      `/api/v1/stream?a=1%26token=${secret}`,
      `/api/v1/stream?a=1%3Btoken=${secret}`,
      `/api/v1/stream?access_token=${secret}`,
      `/api/v1/nowhere;token=${secret}/more`,
      `/api/v1/nowhere?x=1;token=${secret}&y=2`,
      `/api/v1/stream?token=${secret.slice(0, 10)}%26${secret.slice(10)}`,
    ];
    const secrets: string[] = [];
    const bodies: string[] = [];
    const count = forms('').length;
    for (let index = 0; index < count; index++) {
      const secret = `cc_SECRET-${String(index).padStart(2, '0')}-${'x'.repeat(30)}`;
      // The tail too: a token cut at an encoded "&" must not leave it behind.
      secrets.push(secret, secret.slice(10));
      bodies.push(await rawGet(forms(secret)[index] as string));
    }
    // A real user token in the query of a real stream, which the server accepts.
    const reader = await SseReader.open(server.url, { query: `a=1;b=2&token=${encodeURIComponent(userToken)}` });
    await reader.waitForEvent('hello');
    reader.close();
    secrets.push(userToken);
    await waitFor(() => lines.some((l) => l.includes('connection closed')), 'the close line');

    const log = lines.join('');
    for (const secret of secrets) {
      assert.ok(!log.includes(secret), `the log holds ${secret}`);
      for (const body of bodies) assert.ok(!body.includes(secret), `an answer echoes ${secret}: ${body}`);
    }
    const urls = lines.map((l) => JSON.parse(l) as { req?: { url?: string } }).flatMap((e) => (e.req?.url ? [e.req.url] : []));
    assert.ok(urls.filter((u) => u.includes('[redacted]')).length >= count, JSON.stringify(urls, null, 1));
    assert.ok(
      urls.some((u) => u === '/api/v1/stream;token=[redacted]'),
      'a path parameter is redacted in place',
    );
    // The 404 still names the path, without the token.
    // A value runs to the next ?, &, ; or #: what follows it in the path is redacted with it.
    const notFound = bodies.find((b) => b.includes('No route for GET /api/v1/nowhere;token=[redacted].'));
    assert.ok(notFound, bodies.join('\n---\n'));
  });
});

describe('a configuration error never echoes a secret', () => {
  const tokenSettings = settingsTable.filter((spec) => spec.type.kind === 'token').map((spec) => spec.env);
  const BAD_SECRETS = [
    'short-secret',
    'a secret with spaces in it',
    'sécret-sécret-sécret',
    `${'s'.repeat(257)}`,
    'tab\tseparated-secret-value',
  ];

  test('the token settings are CODECAST_ADMIN_TOKEN and CODECAST_METRICS_TOKEN (and any added later)', () => {
    assert.ok(tokenSettings.includes('CODECAST_ADMIN_TOKEN'));
    assert.ok(tokenSettings.includes('CODECAST_METRICS_TOKEN'));
  });

  test('loadConfig names the variable and what it accepts, never the value', () => {
    for (const name of tokenSettings) {
      for (const secret of BAD_SECRETS) {
        let error: unknown;
        try {
          loadConfig({ [name]: secret, PORT: 'not-a-port' });
        } catch (caught) {
          error = caught;
        }
        assert.ok(error instanceof ConfigError, `${name}=${JSON.stringify(secret)} should be refused`);
        assert.match(error.message, new RegExp(`${name}\\b`));
        assert.match(error.message, /16 to 256 visible ASCII characters/);
        // Every problem is still reported, and other values still are shown.
        assert.match(error.message, /PORT="not-a-port"/);
        for (const piece of [secret, JSON.stringify(secret), secret.slice(0, 8), secret.slice(-8)]) {
          assert.ok(!error.message.includes(piece), `${name}: the message shows ${JSON.stringify(piece)}: ${error.message}`);
        }
      }
    }
  });

  test('a refused database URL is shown without its password', () => {
    const refused = [
      'mysql://root:hunter2-password@localhost/db',
      'postgres://codecast:hunter2-password@/codecast',
      'postgres:///codecast?user=codecast&password=hunter2-password',
      'mysql://u:hunter2-p@ss/word@host/db',
      // A password holding an unencoded "/": a URL parser reads part of it as a host or a port.
      'postgres://app:hunter2/z+w==@db.internal:5432/codecast',
      'postgres://app:4711/hunter2+z@db.internal/codecast',
      'postgresql://app:hunter2?x@db.internal/codecast',
      'postgres://u:12#hunter2@db.internal/codecast',
      'postgres://u:12?hunter2@db.internal/codecast',
    ];
    for (const url of refused) {
      assert.throws(
        () => loadConfig({ DATABASE_URL: url }),
        (error: Error) => {
          assert.match(error.message, /DATABASE_URL=".*\*\*\*/);
          assert.doesNotMatch(error.message, /hunter2/);
          return true;
        },
        url,
      );
    }
  });

  test('an accepted PostgreSQL URL is described without its passwords', () => {
    for (const url of [
      'postgres://codecast:hunter2-password@db:5432/codecast',
      'postgresql://codecast@db/codecast?password=hunter2-password&sslmode=verify-full&sslpassword=hunter2-key',
      // pg decodes parameter names: these set the password too.
      'postgres://codecast@db/codecast?passw%6Frd=hunter2-password',
      'postgres://codecast@db/codecast?%70assword=hunter2-password&sslmode=require',
      // An "@" in a query value is no password: accepted as it is.
      'postgres://codecast:hunter2-password@db/codecast?application_name=me@corp',
    ]) {
      const { database } = loadConfig({ DATABASE_URL: url });
      assert.equal(database.driver, 'postgres');
      const described = describeDatabase(database);
      assert.doesNotMatch(described, /hunter2/, described);
      assert.match(described, /^postgres(ql)?:\/\/codecast(:\*\*\*)?@db/, described);
    }
    assert.match(
      describeDatabase(loadConfig({ DATABASE_URL: 'postgresql://codecast@db/codecast?sslmode=require' }).database),
      /sslmode=require/,
    );
  });

  test('codecast serve with a bad token in the environment exits 2 and prints no secret', async () => {
    const secret = 'bad secret with a space';
    for (const name of ['CODECAST_ADMIN_TOKEN', 'CODECAST_METRICS_TOKEN']) {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const spec of settingsTable) delete env[spec.env];
      Object.assign(env, { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: 'sqlite::memory:', [name]: secret });
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.equal(code, 2, `${name}: stderr ${stderr}`);
      assert.match(stderr, new RegExp(`${name}.*16 to 256 visible ASCII characters`));
      for (const piece of [secret, 'with a space']) {
        assert.ok(!stderr.includes(piece) && !stdout.includes(piece), `${name}: the output shows the secret:\n${stderr}${stdout}`);
      }
    }
  });
});

describe('JWT keys and JWTs are never echoed or logged', () => {
  test('a bad CODECAST_JWT_SECRET or CODECAST_JWT_PUBLIC_KEY is named, never shown', () => {
    const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const privateJwk = JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }));
    const publicPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const cases: [string, string, RegExp][] = [
      ['CODECAST_JWT_SECRET', 'a-secret-too-short', /at least 32 bytes/],
      // Checked with the other JWT settings, still reported beside PORT.
      ['CODECAST_JWT_SECRET', publicPem, /holds a PEM key or certificate/],
      ['CODECAST_JWT_PUBLIC_KEY', privatePem, /a private key: give the public key only/],
      ['CODECAST_JWT_PUBLIC_KEY', privateJwk, /a private JWK/],
      ['CODECAST_JWT_PUBLIC_KEY', 'hunter2-not-a-key-at-all', /not PEM/],
    ];
    for (const [name, value, reason] of cases) {
      let error: unknown;
      try {
        loadConfig({ [name]: value, PORT: 'not-a-port' });
      } catch (caught) {
        error = caught;
      }
      assert.ok(error instanceof ConfigError, `${name} should be refused`);
      assert.match(error.message, new RegExp(`${name} \\(its value is not shown\\) is not valid`));
      assert.match(error.message, reason);
      assert.match(error.message, /PORT="not-a-port"/);
      const pieces = value.split(/[\n"]/).filter((piece) => piece.length >= 8 && !piece.startsWith('-----'));
      for (const piece of [value, ...pieces]) assert.ok(!error.message.includes(piece), `${name}: the message shows ${piece}`);
    }
  });

  test('the loaded config prints without the secret', () => {
    const secret = 'jwt-secret-that-must-not-show-0123456789';
    const config = loadConfig({ CODECAST_JWT_SECRET: secret });
    assert.equal(config.jwt?.secret?.type, 'secret');
    assert.ok(!inspect(config, { depth: 10 }).includes(secret));
    assert.ok(!JSON.stringify(config).includes(secret));
  });

  test('neither the secret nor a JWT, accepted or refused, reaches the log', async () => {
    const hs = backend('HS256');
    const { logger, lines } = memoryLogger();
    const t = await startTestServer(hs.env, { logger });
    try {
      const accepted = await Promise.all(TRANSPORT_KINDS.map((transport) => hs.mint(`log-${transport}`)));
      const refused = await hs.mint('log-refused', { exp: nowSeconds() - 600 });
      for (const [index, transport] of TRANSPORT_KINDS.entries()) {
        const subscriber = await connectSubscriber(transport, t.url, { token: accepted[index] });
        assert.equal(subscriber.status, 'open');
        await subscriber.close();
        const turnedAway = await connectSubscriber(transport, t.url, { token: refused });
        assert.equal(turnedAway.refusal, 'token_expired');
      }
      // In the query of a real EventSource too, and on the API.
      const reader = await SseReader.open(t.url, { query: `token=${accepted[0]}` });
      await reader.waitForEvent('hello');
      reader.close();
      assert.equal((await t.api('GET', '/api/v1/me', { token: refused })).status, 401);
      await waitFor(() => lines.filter((l) => l.includes('connection closed')).length >= 4, 'the close lines');
    } finally {
      await t.stop();
    }
    const log = lines.join('');
    assert.ok(log.includes('[redacted]'), 'the query token was there to redact');
    assert.ok(!log.includes(JWT_SECRET), 'the log holds the secret');
    // A JWT's signature is what makes it usable: none may be in the log.
    assert.ok(!/eyJ[\w-]+\.[\w-]+\.[\w-]{20,}/.test(log), 'the log holds a JWT');
  });
});

describe('/metrics with a token', () => {
  const SECRET = 'metrics-secret-0123456789abcdef';
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_METRICS_TOKEN: SECRET, CODECAST_AUTH_FAILURES_PER_MINUTE: '3' });
  });
  after(() => t.stop());

  const scrape = (authorization?: string) => fetch(`${t.url}/metrics`, { headers: authorization ? { authorization } : {} });

  test('the Bearer scheme is case-insensitive', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await scrape(`${scheme} ${SECRET}`);
      assert.equal(res.status, 200, scheme);
      assert.match(await res.text(), /codecast_connections/);
    }
  });

  test('wrong metrics tokens count against the per-address failure budget: past it, 429 with Retry-After', async () => {
    // The admin's token is known (cached) before the budget runs out.
    assert.equal((await t.api('GET', '/api/v1/me')).status, 200);
    for (let i = 0; i < 3; i++) {
      const res = await scrape(`Bearer wrong-metrics-token-${i}-0123456789`);
      assert.equal(res.status, 401, `attempt ${i + 1}`);
      assert.equal(((await res.json()) as { error: string }).error, 'unauthorized');
    }
    const limited = await scrape('Bearer wrong-metrics-token-x-0123456789');
    assert.equal(limited.status, 429);
    assert.equal(((await limited.json()) as { error: string }).error, 'too_many_auth_failures');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);

    // One budget: an unknown user token from the same address is refused too.
    const api = await t.api('GET', '/api/v1/me', { token: 'cc_unknown-user-token-0123456789abcdef' });
    assert.equal(api.status, 429);
    assert.equal(api.body.error, 'too_many_auth_failures');
    // The right metrics token still scrapes, as a known user token still works.
    assert.equal((await scrape(`bearer ${SECRET}`)).status, 200);
    assert.equal((await t.api('GET', '/api/v1/me')).status, 200);
  });
});
