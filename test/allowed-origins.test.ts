// CODECAST_ALLOWED_ORIGINS (issue 13), on the wire: which answers carry CORS
// headers, which preflights are answered, and which WebSocket and Socket.IO
// connections the Origin check lets in — with no list, with a list and with
// `*`. What a browser does with those headers is in cross-origin-pages.test.ts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { rawHttp, upgradeOutcome } from './support/raw-clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { SseReader, waitFor } from './support/sse.js';

const SHOP = 'https://shop.example.com';
const LOCAL_PAGE = 'http://localhost:3000';
const STRANGER = 'https://evil.example.net';

/** A fetch with these headers: status, headers and the JSON (or text) body. */
async function call(t: TestServer, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(`${t.url}${path}`, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

const preflight = (origin: string, method = 'POST', headers = 'authorization, content-type') => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
});

const wsUrl = (t: TestServer, token: string) => `${t.url.replace(/^http/, 'ws')}/api/v1/ws?token=${encodeURIComponent(token)}`;

/** How a Socket.IO client with this Origin fares over one engine.io transport: 'connected' or the connect_error's message. */
function socketIoOutcome(t: TestServer, token: string, origin: string | undefined, transport: 'polling' | 'websocket'): Promise<string> {
  return new Promise((resolve) => {
    const socket = io(t.url, {
      auth: { token },
      transports: [transport],
      reconnection: false,
      ...(origin === undefined ? {} : { extraHeaders: { origin } }),
    });
    socket.on('connect', () => {
      socket.close();
      resolve('connected');
    });
    socket.on('connect_error', (error) => {
      socket.close();
      resolve(error.message);
    });
  });
}

describe('CODECAST_ALLOWED_ORIGINS is checked at start', () => {
  const origins = (value: string) => loadConfig({ CODECAST_ALLOWED_ORIGINS: value }).allowedOrigins;

  test('origins are written as browsers write them, once each', () => {
    assert.deepEqual(origins('HTTPS://Shop.Example.com:443, http://localhost:3000,, http://LOCALHOST:3000 ,http://[::1]:8080'), [
      SHOP,
      LOCAL_PAGE,
      'http://[::1]:8080',
    ]);
    assert.deepEqual(origins('https://bücher.example'), ['https://xn--bcher-kva.example']);
    assert.deepEqual(origins(' * '), ['*']);
    assert.deepEqual(loadConfig({}).allowedOrigins, []);
  });

  for (const [value, reason] of [
    ['https://shop.example.com/', /not scheme:\/\/host\[:port\]/],
    ['https://shop.example.com/shop', /not scheme:\/\/host\[:port\]/],
    ['https://shop.example.com?x=1', /not scheme:\/\/host\[:port\]/],
    ['shop.example.com', /not scheme:\/\/host\[:port\]/],
    ['https://user@shop.example.com', /not scheme:\/\/host\[:port\]/],
    ['https://*.example.com', /no wildcard inside an origin/],
    [`*, ${SHOP}`, /stands alone/],
    ['ftp://files.example.com', /the scheme must be http or https/],
    ['http://shop.example.com:99999', /not a valid origin/],
    ['null', /not scheme:\/\/host\[:port\]/],
    [' , ', /no origin in it/],
  ] as const) {
    test(`${JSON.stringify(value)} stops the start, naming the variable and why`, () => {
      assert.throws(
        () => origins(value),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, /CODECAST_ALLOWED_ORIGINS=".*" is not valid \(/);
          assert.match(error.message, reason);
          assert.match(error.message, /expected a comma-separated list of origins/);
          return true;
        },
      );
    });
  }
});

describe('with no list: same origin only, as before', () => {
  let t: TestServer;
  let token: string;
  before(async () => {
    t = await startTestServer();
    token = (await t.createUser('nolist')).token;
  });
  after(() => t?.stop());

  test('no answer carries CORS headers, and a preflight finds no route', async () => {
    const res = await call(t, '/api/v1/codes', { headers: { origin: SHOP, authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const pre = await call(t, '/api/v1/codes', preflight(SHOP));
    assert.equal(pre.status, 404);
    assert.equal(pre.body.error, 'not_found');
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    const polled = await call(t, '/socket.io/?EIO=4&transport=polling', { headers: { origin: SHOP } });
    assert.equal(polled.status, 200);
    assert.equal(polled.headers.get('access-control-allow-origin'), null);
  });

  test('WebSocket and Socket.IO do not look at Origin', async () => {
    assert.deepEqual(await upgradeOutcome(wsUrl(t, token), { origin: STRANGER }), { open: true });
    assert.equal(await socketIoOutcome(t, token, STRANGER, 'websocket'), 'connected');
  });
});

describe('with a list of origins', () => {
  let t: TestServer;
  let token: string;
  before(async () => {
    t = await startTestServer({ CODECAST_ALLOWED_ORIGINS: `${SHOP}, ${LOCAL_PAGE}` });
    token = (await t.createUser('listed')).token;
  });
  after(() => t?.stop());

  test('a preflight from a listed origin is answered before any auth, naming what a page may send', async () => {
    const res = await call(t, '/api/v1/codes/1/ack', preflight(SHOP, 'POST', 'authorization, content-type, idempotency-key'));
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), SHOP);
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD, POST, PUT, PATCH, DELETE');
    assert.equal(res.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, Last-Event-ID, Idempotency-Key');
    assert.equal(res.headers.get('access-control-max-age'), '600');
    assert.equal(res.headers.get('access-control-allow-credentials'), null, 'bearer tokens, never cookies');
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    // The stream's preflight too (fetch with Authorization and Last-Event-ID).
    const stream = await call(t, '/api/v1/stream', preflight(LOCAL_PAGE, 'GET', 'authorization, last-event-id'));
    assert.equal(stream.status, 204);
    assert.equal(stream.headers.get('access-control-allow-origin'), LOCAL_PAGE);
  });

  test('a preflight from any other origin, or without one, finds no route', async () => {
    for (const init of [preflight(STRANGER), preflight('null'), { method: 'OPTIONS' }]) {
      const res = await call(t, '/api/v1/codes', init);
      assert.equal(res.status, 404, JSON.stringify(init));
      assert.equal(res.body.error, 'not_found');
      assert.equal(res.headers.get('access-control-allow-origin'), null);
    }
  });

  test('answers to a listed origin carry CORS headers, errors included, with the headers a client reads exposed', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const answers = {
      ok: await call(t, '/api/v1/codes', { headers: { origin: SHOP, ...auth } }),
      unauthorized: await call(t, '/api/v1/codes', { headers: { origin: SHOP } }),
      forbidden: await call(t, '/api/v1/users', { headers: { origin: SHOP, ...auth } }),
      notFound: await call(t, '/api/v1/nothing-here', { headers: { origin: SHOP } }),
      badUrl: await call(t, '/api/v1/%', { headers: { origin: SHOP } }),
      malformed: await call(t, '/api/v1/codes/1/ack', {
        method: 'POST',
        headers: { origin: SHOP, ...auth, 'content-type': 'application/json' },
        body: '{',
      }),
    };
    const statuses = Object.fromEntries(Object.entries(answers).map(([name, res]) => [name, res.status]));
    assert.deepEqual(statuses, { ok: 200, unauthorized: 401, forbidden: 403, notFound: 404, badUrl: 400, malformed: 400 });
    for (const [name, res] of Object.entries(answers)) {
      assert.equal(res.headers.get('access-control-allow-origin'), SHOP, name);
      assert.equal(res.headers.get('access-control-expose-headers'), 'Retry-After, Idempotent-Replayed, WWW-Authenticate', name);
      assert.match(res.headers.get('vary') ?? '', /Origin/, name);
    }
    // Same request, an origin not listed: no CORS header, so its page cannot read it.
    const stranger = await call(t, '/api/v1/codes', { headers: { origin: STRANGER, ...auth } });
    assert.equal(stranger.status, 200);
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
  });

  test('the SSE stream, written past Fastify, carries them in its head', async () => {
    const stream = await SseReader.open(t.url, { token, headers: { origin: LOCAL_PAGE } });
    try {
      assert.equal(stream.status, 200);
      assert.equal(stream.headers?.get('access-control-allow-origin'), LOCAL_PAGE);
      assert.equal(stream.headers?.get('content-type'), 'text/event-stream; charset=utf-8');
      await stream.waitForEvent('hello');
      // A 429 of the pong, which a page must read to know when to pong again.
      const pong = (origin: string) =>
        call(t, `/api/v1/stream/${stream.connectionId}/pong`, { method: 'POST', headers: { origin, authorization: `Bearer ${token}` } });
      assert.equal((await pong(LOCAL_PAGE)).status, 204);
      const again = await pong(LOCAL_PAGE);
      assert.equal(again.status, 429);
      assert.equal(again.headers.get('access-control-allow-origin'), LOCAL_PAGE);
      assert.ok(again.headers.get('retry-after'));
    } finally {
      stream.close();
    }
    const stranger = await SseReader.open(t.url, { token, headers: { origin: STRANGER } });
    stranger.close();
    assert.equal(stranger.headers?.get('access-control-allow-origin'), null);
  });

  test('a WebSocket from an origin not listed is refused with 403 before the upgrade; listed, same-origin and origin-less ones open', async () => {
    for (const origin of [STRANGER, 'null', 'http://shop.example.com']) {
      const refused = await upgradeOutcome(wsUrl(t, token), { origin });
      assert.equal(refused.open, false, origin);
      if (refused.open) continue;
      assert.equal(refused.status, 403);
      assert.equal(JSON.parse(refused.body).error, 'origin_not_allowed');
    }
    // No Origin at all: not a browser (ws in Node sends none).
    assert.deepEqual(await upgradeOutcome(wsUrl(t, token)), { open: true });
    assert.deepEqual(await upgradeOutcome(wsUrl(t, token), { origin: SHOP }), { open: true });
    // The server's own pages: Origin is the host the request came to.
    assert.deepEqual(await upgradeOutcome(wsUrl(t, token), { origin: t.url }), { open: true });
    // Refused before any token is looked at: a bad one changes nothing.
    const badToken = await upgradeOutcome(wsUrl(t, 'cc_not-a-token-0123456789'), { origin: STRANGER });
    assert.equal(badToken.open ? 0 : badToken.status, 403);
  });

  test('Socket.IO takes the same list: polling answers listed origins with CORS and refuses others, over WebSocket too', async () => {
    const listed = await call(t, '/socket.io/?EIO=4&transport=polling', { headers: { origin: SHOP } });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('access-control-allow-origin'), SHOP);
    const pre = await call(t, '/socket.io/?EIO=4&transport=polling', preflight(SHOP, 'POST', 'content-type'));
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), SHOP);
    const refused = await call(t, '/socket.io/?EIO=4&transport=polling', { headers: { origin: STRANGER } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'origin_not_allowed');
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const upgrade = await upgradeOutcome(`${t.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { origin: STRANGER });
    assert.equal(upgrade.open ? 0 : upgrade.status, 403);

    assert.equal(await socketIoOutcome(t, token, SHOP, 'websocket'), 'connected');
    assert.equal(await socketIoOutcome(t, token, t.url, 'websocket'), 'connected');
    assert.equal(await socketIoOutcome(t, token, undefined, 'websocket'), 'connected');
    assert.equal(await socketIoOutcome(t, token, STRANGER, 'websocket'), 'websocket error');
    assert.equal(await socketIoOutcome(t, token, STRANGER, 'polling'), 'xhr poll error');
    assert.equal(t.server.stats().connections.byTransport.socketio, 0);
  });

  test('an answer given before a request is read (origin unknown) may be read by any page', async () => {
    // A request Node's parser refuses: headers over its 16 KiB.
    const answer = await rawHttp(t.url, `GET / HTTP/1.1\r\nHost: x\r\nOrigin: ${SHOP}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(answer.status, 431);
    assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    assert.equal(JSON.parse(answer.body).error, 'headers_too_large');
  });
});

describe('a refused connection, before its request is read, with a list', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_ALLOWED_ORIGINS: SHOP, CODECAST_MAX_PENDING_PER_ADDRESS: '1' });
  });
  after(() => t?.stop());

  test('carries CORS headers for any page, with Retry-After exposed', async () => {
    const { port } = new URL(t.url);
    // One idle connection holds this address's only pending place.
    const holder = connect(Number(port), '127.0.0.1');
    holder.on('error', () => undefined);
    await new Promise<void>((resolve) => holder.once('connect', () => resolve()));
    try {
      await waitFor(() => (t.server.stats() as { pending: { pending: number } }).pending.pending === 1, 'the place taken');
      const answer = await rawHttp(t.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: ${SHOP}\r\n\r\n`);
      assert.equal(answer.status, 429);
      assert.equal(JSON.parse(answer.body).error, 'too_many_pending_connections');
      assert.equal(answer.headers.get('access-control-allow-origin'), '*');
      assert.equal(answer.headers.get('access-control-expose-headers'), 'Retry-After, Idempotent-Replayed, WWW-Authenticate');
      assert.equal(answer.headers.get('retry-after'), '2');
    } finally {
      holder.destroy();
    }
  });
});

describe('with * : every origin', () => {
  let t: TestServer;
  let token: string;
  before(async () => {
    t = await startTestServer({ CODECAST_ALLOWED_ORIGINS: '*' });
    token = (await t.createUser('anyone')).token;
  });
  after(() => t?.stop());

  test('answers carry Access-Control-Allow-Origin: *, without credentials', async () => {
    const pre = await call(t, '/api/v1/codes', preflight(STRANGER));
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
    const res = await call(t, '/api/v1/codes', { headers: { origin: STRANGER, authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const polled = await call(t, '/socket.io/?EIO=4&transport=polling', { headers: { origin: STRANGER } });
    assert.equal(polled.headers.get('access-control-allow-origin'), '*');
  });

  test('WebSocket and Socket.IO let every origin in: the token is what admits', async () => {
    assert.deepEqual(await upgradeOutcome(wsUrl(t, token), { origin: STRANGER }), { open: true });
    assert.equal(await socketIoOutcome(t, token, STRANGER, 'polling'), 'connected');
  });
});
