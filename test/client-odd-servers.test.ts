// The client library (its Node entry) against answers a codecast server
// does not give but something in its place may — a proxy's HTML 404 or 502,
// a Retry-After of 0 or of a month, `retry:` lines of any value, a WebSocket
// upgrade refused with an HTTP answer, a message far too large — and a real
// codecast announcing a shutdown delay of 0. Every wait stays between 250 ms
// and 10 minutes and grows while the failures go on; only codecast's own
// 400, 401 or 403 stops a subscription.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { LIBRARY_TRANSPORTS, recordSubscription, type RecordedSubscription } from './support/library-clients.js';
import { answerRaw, type ScriptedServer, startScriptedServer } from './support/scripted-http.js';
import { startTestServer } from './support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const HELLO = JSON.stringify({ connectionId: 'c', lastId: 0, heartbeatSeconds: 15 });
const json = { 'content-type': 'application/json' };

/** The waits a subscription announced, in order. */
function waits(s: RecordedSubscription): number[] {
  return s.states.filter((x) => x.state === 'reconnecting' && x.detail.retryInMs !== undefined).map((x) => x.detail.retryInMs!);
}

describe('the client library against answers that are not codecast’s', () => {
  const servers: ScriptedServer[] = [];
  const subscriptions: RecordedSubscription[] = [];
  async function scripted(script: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
    const server = await startScriptedServer(script);
    servers.push(server);
    return server;
  }
  function subscription(options: Parameters<typeof recordSubscription>[0]): RecordedSubscription {
    const s = recordSubscription(options);
    subscriptions.push(s);
    return s;
  }
  after(async () => {
    await Promise.all(subscriptions.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  test('a proxy’s HTML 404, then 502s: retried with backoff, never refused', async () => {
    const server = await scripted({
      request(_request, response, n) {
        response.writeHead(n === 1 ? 404 : 502, { 'content-type': 'text/html' });
        response.end('<h1>no backend</h1>');
      },
    });
    const s = subscription({ url: server.url, token: 't', reconnect: { initialMs: 250 } });
    await s.waitForState('reconnecting', 2, 5000);
    const [first, second] = s.errors;
    assert.deepEqual([first?.code, first?.status, first?.final], ['bad_response', 404, false]);
    assert.deepEqual([second?.code, second?.status, second?.final], ['bad_response', 502, false]);
    assert.ok(!s.stateNames().includes('refused'));
    assert.ok(server.requests >= 2);
  });

  test('codecast’s own 403 is final; its 404 is not', async () => {
    const forbidden = await scripted({
      request(_request, response) {
        response.writeHead(403, json).end(JSON.stringify({ error: 'user_disabled', message: 'This user is disabled.' }));
      },
    });
    const s = subscription({ url: forbidden.url, token: 't' });
    await s.waitForState('refused', 1, 5000);
    const refusal = await s.subscription.done;
    assert.deepEqual([refusal?.code, refusal?.status, refusal?.final], ['user_disabled', 403, true]);
    assert.equal(forbidden.requests, 1);

    const missing = await scripted({
      request(_request, response) {
        response.writeHead(404, json).end(JSON.stringify({ error: 'not_found', message: 'Nothing is here.' }));
      },
    });
    const m = subscription({ url: missing.url, token: 't', reconnect: { initialMs: 250 } });
    await m.waitForState('reconnecting', 2, 5000);
    assert.equal(m.errors[0]?.final, false);
  });

  test('Retry-After: 0 on every 503: at least 250 ms between attempts, and the waits grow', async () => {
    const server = await scripted({
      request(_request, response) {
        response.writeHead(503, { ...json, 'retry-after': '0' }).end(JSON.stringify({ error: 'server_full', message: 'full' }));
      },
    });
    const s = subscription({ url: server.url, token: 't', reconnect: { initialMs: 0 } });
    await sleep(2000);
    // 250, 250–500, 500–1000, 1000–2000 ms: five attempts at most in 2 s (it was hundreds).
    assert.ok(server.requests <= 5, `${server.requests} requests in 2 s`);
    const announced = waits(s);
    assert.ok(announced.length >= 2);
    assert.ok(
      announced.every((ms) => ms >= 250),
      announced.join(', '),
    );
    assert.ok(announced.at(-1)! > announced[0]!, `growing: ${announced.join(', ')}`);
  });

  test('a Retry-After of a month waits 10 minutes, not setTimeout’s overflow of 1 ms', async () => {
    const server = await scripted({
      request(_request, response) {
        response.writeHead(503, { ...json, 'retry-after': '3000000' }).end(JSON.stringify({ error: 'server_full', message: 'full' }));
      },
    });
    const s = subscription({ url: server.url, token: 't' });
    await s.waitForState('reconnecting');
    await sleep(1000);
    assert.equal(server.requests, 1);
    assert.deepEqual(waits(s), [600_000]);
    assert.equal(s.errors[0]?.retryAfterMs, 3_000_000_000);
  });

  test('`retry:` opening a stream sets the pace; one sent later, with a shutdown, is for the next wait only', async () => {
    const server = await scripted({
      request(_request, response, n) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(`retry: 4000\n\nevent: hello\ndata: ${HELLO}\n\n`);
        // The first stream says goodbye with a short hint; the second just ends.
        response.end(n === 1 ? 'retry: 0\n\nevent: shutdown\ndata: {"reconnectAfterMs":0}\n\n' : '');
      },
    });
    const s = subscription({ url: server.url, token: 't' });
    await s.waitForState('reconnecting', 2, 5000);
    const [afterShutdown, afterEnd] = waits(s);
    assert.equal(s.errors[0]?.code, 'shutdown');
    // The shutdown asked for 0 ms: the backoff of the stream's 4000 ms pace (2000 to 4000) stands, not a loop.
    assert.ok(afterShutdown! >= 2000 && afterShutdown! <= 4000, `after the shutdown: ${afterShutdown}`);
    await s.waitForState('reconnecting', 3, 8000);
    assert.ok(afterEnd! >= 2000 && afterEnd! <= 4000, `after the second stream: ${afterEnd} (not the shutdown's 0)`);
  });

  test('an SSE line that never ends: the stream is dropped past 1 MiB as bad_response, and retried', async () => {
    const server = await scripted({
      request(_request, response, n) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        if (n > 1) return;
        response.write(`event: hello\ndata: ${HELLO}\n\n`);
        response.write(`data: ${'x'.repeat(2 * 1024 * 1024)}`);
      },
    });
    const s = subscription({ url: server.url, token: 't', reconnect: { initialMs: 250 } });
    await s.waitForState('reconnecting', 1, 5000);
    assert.deepEqual([s.errors[0]?.code, s.errors[0]?.final], ['bad_response', false]);
    await waitForRequests(server, 2);
  });

  describe('a WebSocket refused before the upgrade (Node reads the HTTP answer)', () => {
    test('403 origin_not_allowed is final, with its code and status', async () => {
      const server = await scripted({
        upgrade(_request, socket) {
          answerRaw(
            socket,
            '403 Forbidden',
            json,
            JSON.stringify({ error: 'origin_not_allowed', message: 'Pages of this origin may not use this server.' }),
          );
        },
      });
      const s = subscription({ url: server.url, token: 't', transport: 'websocket' });
      await s.waitForState('refused', 1, 5000);
      const refusal = await s.subscription.done;
      assert.deepEqual([refusal?.code, refusal?.status, refusal?.final], ['origin_not_allowed', 403, true]);
      assert.equal(s.subscription.state, 'refused');
      assert.equal(server.requests, 1);
    });

    test('429 and 503 wait as Retry-After says; a plain-text 503 is bad_response', async () => {
      const server = await scripted({
        upgrade(_request, socket, _head, n) {
          if (n === 1) {
            answerRaw(
              socket,
              '429 Too Many Requests',
              { ...json, 'retry-after': '1' },
              JSON.stringify({ error: 'too_many_auth_failures', message: 'Too many.' }),
            );
          } else answerRaw(socket, '503 Service Unavailable', { 'content-type': 'text/plain', 'retry-after': '1' }, 'busy');
        },
      });
      const s = subscription({ url: server.url, token: 't', transport: 'websocket', reconnect: { initialMs: 250 } });
      await s.waitForState('reconnecting', 2, 5000);
      const [first, second] = s.errors;
      assert.deepEqual([first?.code, first?.status, first?.retryAfterMs, first?.final], ['too_many_auth_failures', 429, 1000, false]);
      assert.deepEqual([second?.code, second?.status, second?.retryAfterMs, second?.final], ['bad_response', 503, 1000, false]);
      const [wait] = waits(s);
      assert.ok(wait! >= 1000 && wait! <= 1250, `Retry-After: 1 → ${wait}`);
    });

    test('a message over 1 MiB ends the connection, which is retried', async () => {
      const wss = new WebSocketServer({ noServer: true });
      const server = await scripted({
        upgrade(request, socket, head, n) {
          wss.handleUpgrade(request, socket, head, (ws) => {
            ws.send(JSON.stringify({ type: 'hello', data: JSON.parse(HELLO) }));
            if (n === 1) ws.send(JSON.stringify({ type: 'ping', data: 'x'.repeat(2 * 1024 * 1024) }));
          });
        },
      });
      try {
        const s = subscription({ url: server.url, token: 't', transport: 'websocket', reconnect: { initialMs: 250 } });
        await s.waitForState('live', 2, 5000);
        assert.deepEqual(
          s.errors.map((error) => [error.code, error.final]),
          [['bad_response', false]],
        );
        assert.match(s.errors[0]?.message ?? '', /over 1048576 bytes/);
      } finally {
        for (const client of wss.clients) client.terminate();
        wss.close();
      }
    });
  });
});

async function waitForRequests(server: ScriptedServer, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server.requests < count) {
    if (Date.now() > deadline) throw new Error(`${count} requests (have ${server.requests})`);
    await sleep(50);
  }
}

for (const transport of LIBRARY_TRANSPORTS) {
  test(`a real codecast announcing shutdown in 0 ms, over ${transport}: the attempts after it back off`, async () => {
    const t = await startTestServer({ CODECAST_SHUTDOWN_RECONNECT_MS: '0', CODECAST_SSE_RETRY_MS: '0' });
    let attempts = 0;
    const counting: typeof fetch = (...args) => {
      attempts++;
      return fetch(...args);
    };
    const s = recordSubscription({ url: t.url, token: t.adminToken, transport, fetch: counting, reconnect: { initialMs: 0 } });
    try {
      await s.waitForState('live');
      const before = transport === 'sse' ? attempts : s.states.length;
      await t.stop();
      await sleep(3000);
      // 250, then 250 to 500, 500 to 1000, 1000 to 2000 ms: five attempts at most in 3 s (it was hundreds).
      const made = transport === 'sse' ? attempts - before : waits(s).length;
      assert.ok(made >= 2 && made <= 5, `${made} attempts in 3 s`);
      assert.equal(s.errors[0]?.code, 'shutdown');
      assert.ok(
        waits(s).every((ms) => ms >= 250),
        waits(s).join(', '),
      );
    } finally {
      await s.close();
    }
  });
}
