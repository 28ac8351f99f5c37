// Liveness, slow consumers and malformed input on the WebSocket and
// Socket.IO transports (issue 3, points 1, 2 and 4): a client that stops
// reading is closed as a slow consumer and recovers every code by replay;
// a client that stops answering pings is swept as stale while a normal one
// stays; malformed frames get error frames (or the documented close) and
// never disturb anyone else; a bad `since` and an unknown path are refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io, type Socket as IoSocket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { filler } from './support/liveness-helpers.js';
import { envelopes, eventually, RawSocketIoClient, RawWsClient, WsRecorder } from './support/raw-clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const MAX_PUBLISHES = 5000;
const BATCH = 10;

const wsBase = (t: TestServer) => t.url.replace(/^http/, 'ws');
const wsUrl = (t: TestServer, token: string, query = '') => `${wsBase(t)}/api/v1/ws?token=${encodeURIComponent(token)}${query}`;

async function stats(t: TestServer): Promise<any> {
  const res = await t.api('GET', '/api/v1/stats');
  assert.equal(res.status, 200);
  return res.body;
}

interface IoClient {
  readonly socket: IoSocket;
  readonly codes: number[];
  readonly events: { name: string; args: unknown[] }[];
  connects: number;
  readonly disconnects: string[];
}

/** A socket.io-client that records what it gets; with `resume`, `auth` is a function sending the last id seen. */
function ioClient(t: TestServer, token: string, options: { reconnection?: boolean; resume?: boolean } = {}): IoClient {
  const client: IoClient = { socket: undefined as unknown as IoSocket, codes: [], events: [], connects: 0, disconnects: [] };
  const socket = io(t.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: options.reconnection ?? true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    // A reconnect resumes after the last code seen (0: every code since the first connect).
    auth: (cb) => cb(options.resume && client.connects > 0 ? { token, since: client.codes.at(-1) ?? 0 } : { token }),
  });
  (client as { socket: IoSocket }).socket = socket;
  socket.onAny((name: string, ...args: unknown[]) => {
    client.events.push({ name, args });
    if (name === 'new_code') client.codes.push((args[0] as { id: number }).id);
  });
  socket.on('connect', () => {
    client.connects++;
  });
  socket.on('disconnect', (reason) => {
    client.disconnects.push(reason);
  });
  return client;
}

const helloCount = (client: IoClient) => client.events.filter((e) => e.name === 'hello').length;

describe('slow consumers', () => {
  // One publishing loop serves both transports: a raw WebSocket client and a
  // socket.io-client stop reading at the same time, and big codes are
  // published until both are closed as slow consumers (a non-reading client
  // needs the kernel buffers between it and the server full first, a few MB).
  let t: TestServer;
  let wsToken: string;
  let slowWs: RawWsClient;
  let slowIo: IoClient;
  let engineWs: { pause(): void; resume(): void };
  let fastWs: WsRecorder;
  let fastIo: IoClient;
  let closesBefore: number;
  /** Every code published, in id order: up to both closes, then EXTRA more. */
  const published: number[] = [];
  let afterClose: any;
  const EXTRA = 3;

  before(async () => {
    t = await startTestServer({
      CODECAST_CONNECTION_QUEUE: '5',
      CODECAST_DEDUP_SECONDS: '0',
      CODECAST_HISTORY: '10000',
      // No heartbeat and no sweep while the buffers fill (slow on a busy
      // machine): engine.io would otherwise drop the paused Socket.IO client
      // for its unanswered pings (pingInterval + 20 s) before it is slow.
      CODECAST_HEARTBEAT_SECONDS: '3600',
      CODECAST_STALE_SECONDS: '86400',
    });
    wsToken = (await t.createUser('ws-slowpoke')).token;
    const ioToken = (await t.createUser('io-slowpoke')).token;
    slowWs = await RawWsClient.open(t.url, `/api/v1/ws?token=${encodeURIComponent(wsToken)}`);
    slowIo = ioClient(t, ioToken, { resume: true });
    fastWs = await WsRecorder.open(wsUrl(t, t.adminToken));
    fastIo = ioClient(t, t.adminToken, { reconnection: false });
    assert.equal(slowWs.status, 101);
    await waitFor(() => envelopes(slowWs).some((m) => m.type === 'hello'), 'hello on the raw WebSocket');
    await waitFor(() => helloCount(slowIo) === 1 && helloCount(fastIo) === 1, 'hello on both Socket.IO clients');
    await fastWs.waitFor('hello');
    const start = await stats(t);
    assert.deepEqual(start.connections.byTransport, { sse: 0, ws: 2, socketio: 2 });
    closesBefore = start.closes.slow_consumer;

    // engine.io-client carries its own copy of `ws`: its WebSocket, with pause() and resume().
    const inner = (slowIo.socket.io.engine.transport as unknown as { ws?: { pause(): void; resume(): void } }).ws;
    assert.equal(typeof inner?.pause, 'function', 'socket.io-client runs over a ws WebSocket in Node');
    engineWs = inner as { pause(): void; resume(): void };
    // From here on neither slow client takes anything more from the kernel.
    slowWs.pause();
    engineWs.pause();

    while (t.server.hub.stats().closes.slow_consumer < closesBefore + 2) {
      if (published.length >= MAX_PUBLISHES) {
        const now = t.server.hub.stats();
        assert.fail(
          `fewer than two slow-consumer closes after ${MAX_PUBLISHES} publishes: ${JSON.stringify({ closes: now.closes, byTransport: now.byTransport, queuedBytes: now.queuedBytes })}`,
        );
      }
      const first = published.length;
      const batch = Array.from({ length: BATCH }, (_, k) => t.publish(`SLOW-${first + k}`, { message: filler(first + k) }));
      for (const { id } of await Promise.all(batch)) published.push(id);
    }
    afterClose = await stats(t);
    // Published after both closes: only replay can bring these to the slow clients.
    for (let k = 0; k < EXTRA; k++) published.push((await t.publish(`SLOW-AFTER-${k}`)).id);
    published.sort((a, b) => a - b);
  });
  after(async () => {
    slowWs?.destroy();
    slowIo?.socket.close();
    fastWs?.end();
    fastIo?.socket.close();
    await t.stop();
  });

  test('both non-reading clients are closed and counted as slow_consumer; the reading ones get every code', async (ctx) => {
    ctx.diagnostic(`two slow-consumer closes after ${published.length - EXTRA} publishes`);
    assert.equal(afterClose.closes.slow_consumer, closesBefore + 2);
    assert.equal(afterClose.slowConsumerCloses, closesBefore + 2);
    // Only the clients that stopped reading were closed.
    assert.deepEqual(afterClose.connections.byTransport, { sse: 0, ws: 1, socketio: 1 });
    await waitFor(() => fastWs.codeIds().length === published.length, 'the reading WebSocket client to get every code', 15_000);
    await waitFor(() => fastIo.codes.length === published.length, 'the reading Socket.IO client to get every code', 15_000);
    assert.deepEqual(fastWs.codeIds(), published);
    assert.deepEqual(fastIo.codes, published);
    assert.equal(fastWs.close, undefined);
    assert.equal(fastIo.connects, 1);
    assert.deepEqual(fastIo.disconnects, []);
  });

  test('WebSocket: the slow client got a prefix, in order; ?since=<last id it saw> brings the rest once each', async (ctx) => {
    // Read whatever the kernel still holds for the slow client, up to the cut.
    slowWs.resume();
    await slowWs.waitForClose();
    const gotFirst = envelopes(slowWs)
      .filter((m) => m.type === 'code')
      .map((m) => m.data.id as number);
    assert.ok(gotFirst.length <= published.length - EXTRA, 'nothing reached the slow client after its close');
    assert.deepEqual(gotFirst, published.slice(0, gotFirst.length), 'what the slow client got is a prefix, in order');
    const closeFrame = slowWs.closeFrame();
    // The close frame is lost with the server's buffer when the client reads again only after the cut.
    if (closeFrame) assert.deepEqual(closeFrame, { code: 4001, reason: 'slow_consumer' });
    ctx.diagnostic(`slow client read ${gotFirst.length} codes; close frame ${closeFrame ? 'seen' : 'lost with its buffer'}`);
    const lastSeen = gotFirst.at(-1) ?? 0;

    const again = await WsRecorder.open(wsUrl(t, wsToken, `&since=${lastSeen}`));
    try {
      const missing = published.length - gotFirst.length;
      assert.ok(missing >= EXTRA);
      await again.waitFor('code', missing, 15_000);
      assert.equal(again.messages[0]?.type, 'hello');
      assert.equal(again.of('reset').length, 0);
      assert.deepEqual([...gotFirst, ...again.codeIds()], published);
      const live = await t.publish('WS-SLOW-LIVE');
      await again.waitFor('code', missing + 1);
      assert.equal(again.codeIds().at(-1), live.id);
      assert.equal(again.codeIds().length, missing + 1);
      published.push(live.id);
    } finally {
      again.end();
    }
  });

  test('Socket.IO: reading again, the client reconnects by itself with auth.since and gets every code once, in order', async (ctx) => {
    const before = slowIo.codes.length;
    assert.ok(before < published.length - EXTRA, 'the paused client had not received everything');
    // It takes what was buffered, sees the transport close, reconnects with
    // auth.since = the last id it saw, and replay brings the rest.
    engineWs.resume();
    await waitFor(
      () => slowIo.codes.length >= published.length && slowIo.connects >= 2,
      'the slow client to reconnect and catch up',
      20_000,
    );
    ctx.diagnostic(`had ${before} codes while paused; disconnects: ${slowIo.disconnects.join(', ')}`);
    assert.deepEqual(slowIo.codes, published);
    assert.equal(slowIo.connects, 2);
    assert.equal(slowIo.disconnects.length, 1);
    assert.match(slowIo.disconnects[0] ?? '', /^transport (close|error)$/, 'the transport was closed: the client reconnects by itself');
    assert.equal(slowIo.events.filter((e) => e.name === 'reset').length, 0);
    const live = await t.publish('IO-SLOW-LIVE');
    await waitFor(() => slowIo.codes.length === published.length + 1, 'a live code after recovery');
    assert.equal(slowIo.codes.at(-1), live.id);
  });
});

describe('stale sweep', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      CODECAST_HEARTBEAT_SECONDS: '1',
      CODECAST_SWEEP_SECONDS: '1',
      CODECAST_STALE_SECONDS: '2',
      CODECAST_PONG_INTERVAL_SECONDS: '1',
    });
  });
  after(async () => {
    await t.stop();
  });

  test('WebSocket: a client that answers no ping is closed 4408 stale; one that pongs by itself stays', async () => {
    const { token } = await t.createUser('ws-mute');
    const before = (await stats(t)).closes.stale;
    const mute = await WsRecorder.open(wsUrl(t, token), { autoPong: false });
    const lively = await WsRecorder.open(wsUrl(t, token));
    try {
      await Promise.all([mute.waitFor('hello'), lively.waitFor('hello')]);
      const closed = await mute.waitForClose(10_000);
      assert.deepEqual(closed, { code: 4408, reason: 'stale' });
      assert.ok(mute.pings >= 1, 'the mute client was pinged and did not answer');

      // Two more sweeps, with pings, after the close: the lively one is still there.
      const pingsAtClose = lively.pings;
      await waitFor(() => lively.pings >= pingsAtClose + 3, 'three more protocol pings on the lively client', 8000);
      assert.equal(lively.close, undefined);
      assert.equal(lively.ws.readyState, WebSocket.OPEN);
      assert.ok(lively.of('ping').length >= 3, 'ping envelopes come with the protocol pings');
      const now = await stats(t);
      assert.equal(now.closes.stale, before + 1);
      assert.equal(now.staleCloses, before + 1);
      assert.equal(now.connections.byTransport.ws, 1);
      const { id } = await t.publish('WS-STILL-HERE');
      await lively.waitFor('code');
      assert.deepEqual(lively.codeIds(), [id]);
    } finally {
      mute.end();
      lively.end();
    }
  });

  test('Socket.IO: a client that never answers engine.io pings is swept as stale; a normal client stays connected', async (ctx) => {
    const { token } = await t.createUser('io-mute');
    const before = await stats(t);
    const lively = ioClient(t, token, { reconnection: false });
    const mute = await RawSocketIoClient.open(t.url, { token });
    try {
      await waitFor(() => mute.events().some(([name]) => name === 'hello'), 'hello on the raw Socket.IO client');
      assert.equal(mute.connectAnswer(), 'connected');
      await waitFor(() => helloCount(lively) === 1, 'hello on the socket.io-client');

      // The sweep closes the mute client well before engine.io's own 20 s ping timeout.
      await waitFor(() => mute.ws.closeFrame() !== undefined || mute.ws.closed, 'the mute client to be closed', 10_000);
      assert.ok(mute.packets().filter((p) => p === '2').length >= 1, 'engine.io pinged the mute client (which never answered "3")');
      const closing = mute.events().find(([name]) => name === 'closing');
      ctx.diagnostic(`mute client got closing: ${JSON.stringify(closing ?? null)}`);
      if (closing) assert.deepEqual(closing[1], { reason: 'stale' });
      const afterClose = await stats(t);
      assert.ok(afterClose.closes.stale >= before.closes.stale + 1, 'counted as stale by our sweep');

      // Three more engine.io pings (and sweeps): the client that answers them is still connected.
      let pings = 0;
      lively.socket.io.engine.on('ping', () => {
        pings++;
      });
      await waitFor(() => pings >= 3, 'three more engine.io pings on the lively client', 8000);
      assert.equal(lively.socket.connected, true);
      assert.deepEqual(lively.disconnects, []);
      const now = await stats(t);
      assert.equal(now.closes.stale, before.closes.stale + 1);
      assert.equal(now.connections.byTransport.socketio, 1);
      const { id } = await t.publish('IO-STILL-HERE');
      await waitFor(() => lively.codes.length === 1, 'a live code on the lively client');
      assert.deepEqual(lively.codes, [id]);
    } finally {
      mute.destroy();
      lively.socket.close();
    }
  });
});

describe('malformed input, bad since, unknown paths', () => {
  const MAX_INBOUND = 256;
  let t: TestServer;
  let user: { token: string };
  before(async () => {
    t = await startTestServer({
      CODECAST_MAX_INBOUND_FRAME_BYTES: String(MAX_INBOUND),
      CODECAST_DEDUP_SECONDS: '0',
    });
    user = await t.createUser('prober');
  });
  after(async () => {
    await t.stop();
  });

  const codeDetail = async (id: number) => {
    const res = await t.api('GET', `/api/v1/codes/${id}`);
    assert.equal(res.status, 200);
    return res.body;
  };

  test('WebSocket: malformed text frames get an error frame and the connection keeps working', async () => {
    const c = await WsRecorder.open(wsUrl(t, user.token));
    try {
      await c.waitFor('hello');
      const errorFor = async (frame: string) => {
        const n = c.of('error').length;
        c.ws.send(frame);
        await c.waitFor('error', n + 1, 10_000).catch((error: Error) => {
          throw new Error(`${error.message} after sending ${frame}; got ${JSON.stringify(c.messages)}; close ${JSON.stringify(c.close)}`);
        });
        return c.of('error')[n];
      };
      for (const frame of [
        'not json',
        '{"type":"ack"',
        'null',
        '42',
        '[{"type":"ack","id":1}]',
        '{"type":"subscribe"}',
        '{"id":1}',
        '{"type":"ack"}',
        '{"type":"ack","id":"1"}',
        '{"type":"ack","id":0}',
        '{"type":"ack","id":1.5}',
        '{"type":"ACK","id":1}',
      ]) {
        const error = await errorFor(frame);
        assert.equal(error.error, 'invalid_request', `error frame for ${frame}`);
        assert.equal(typeof error.message, 'string');
      }
      // A frame exactly at the size limit is read (and refused for its content, not its size).
      const atLimit = JSON.stringify({ type: 'nothing', pad: '' });
      const padded = atLimit.replace('""', `"${'p'.repeat(MAX_INBOUND - atLimit.length)}"`);
      assert.equal(Buffer.byteLength(padded), MAX_INBOUND);
      assert.equal((await errorFor(padded)).error, 'invalid_request');

      const unknownAck = await errorFor('{"type":"ack","id":999999}');
      assert.equal(unknownAck.error, 'code_not_found');

      // Still open, still receiving.
      assert.equal(c.close, undefined);
      const { id } = await t.publish('MALFORMED-1');
      await c.waitFor('code');
      assert.deepEqual(c.codeIds(), [id]);

      // A valid ack counts once for the user, however often it is sent.
      const errorsBefore = c.of('error').length;
      c.ws.send(JSON.stringify({ type: 'ack', id }));
      await eventually(async () => (await codeDetail(id)).acks.users === 1, 'the ack to be recorded');
      c.ws.send(JSON.stringify({ type: 'ack', id }));
      // The HTTP ack of the same user afterwards says it was not the first.
      const http = await t.api('POST', `/api/v1/codes/${id}/ack`, { token: user.token });
      assert.equal(http.status, 200);
      assert.equal(http.body.first, false);
      assert.equal((await codeDetail(id)).acks.users, 1);
      assert.equal(c.of('error').length, errorsBefore, 'a valid ack gets no error frame');
      assert.equal(c.close, undefined);
    } finally {
      c.end();
    }
  });

  test('WebSocket: a binary frame closes 1003, a frame over the limit closes 1009; nobody else is disturbed', async () => {
    const bystander = await WsRecorder.open(wsUrl(t, user.token));
    const binary = await WsRecorder.open(wsUrl(t, user.token));
    const big = await WsRecorder.open(wsUrl(t, user.token));
    try {
      await Promise.all([bystander.waitFor('hello'), binary.waitFor('hello'), big.waitFor('hello')]);
      const before = await stats(t);

      binary.ws.send(Buffer.from('{"type":"ack","id":1}'), { binary: true });
      assert.deepEqual(await binary.waitForClose(), { code: 1003, reason: 'protocol_error' });

      big.ws.send('x'.repeat(MAX_INBOUND + 1));
      assert.equal((await big.waitForClose()).code, 1009);

      const now = await stats(t);
      assert.equal(now.closes.protocol_error, before.closes.protocol_error + 1);
      assert.equal(now.connections.byTransport.ws, before.connections.byTransport.ws - 2);
      assert.equal(bystander.close, undefined);
      const { id } = await t.publish('MALFORMED-2');
      await bystander.waitFor('code');
      assert.deepEqual(bystander.codeIds(), [id]);
      assert.equal(binary.of('code').length, 0);
      assert.equal(big.of('code').length, 0);
      assert.equal((await t.api('GET', '/healthz', { token: null })).status, 200);
    } finally {
      bystander.end();
      binary.end();
      big.end();
    }
  });

  test('Socket.IO: bad acks get {error}, a message over maxHttpBufferSize drops only that client', async () => {
    const c = ioClient(t, user.token, { reconnection: false });
    const victim = ioClient(t, user.token, { reconnection: false });
    const bystander = await WsRecorder.open(wsUrl(t, user.token));
    try {
      await waitFor(() => helloCount(c) === 1 && helloCount(victim) === 1, 'hello on both Socket.IO clients');
      await bystander.waitFor('hello');
      const ack = (...args: unknown[]) =>
        new Promise<any>((resolve) => {
          c.socket.timeout(5000).emit('ack', ...args, (err: unknown, result: unknown) => resolve(err ?? result));
        });

      for (const bad of ['abc', '1', 0, -3, 1.5, null, { id: 1 }]) {
        const result = await ack(bad);
        assert.equal(result.error, 'invalid_request', `ack(${JSON.stringify(bad)})`);
        assert.equal(typeof result.message, 'string');
      }
      assert.equal((await ack(999999)).error, 'code_not_found');

      const { id } = await t.publish('IO-MALFORMED');
      await waitFor(() => c.codes.length === 1 && victim.codes.length === 1, 'the code on both Socket.IO clients');
      const first = await ack(id);
      assert.equal(first.id, id);
      assert.equal(first.first, true);
      assert.equal(typeof first.latencyMs, 'number');
      const again = await ack(id);
      assert.equal(again.first, false);
      assert.equal((await codeDetail(id)).acks.users, 1);

      // Too big for engine.io: that client is dropped, no one else.
      victim.socket.emit('ack', 'x'.repeat(MAX_INBOUND * 4));
      await waitFor(() => victim.disconnects.length === 1, 'the oversized sender to be disconnected');
      assert.equal(victim.socket.connected, false);
      await waitFor(() => t.server.hub.stats().byTransport.socketio === 1, 'the server to drop the oversized sender');
      assert.equal(c.socket.connected, true);
      assert.deepEqual(c.disconnects, []);
      assert.equal(bystander.close, undefined);

      const next = await t.publish('IO-AFTER-BIG');
      await waitFor(() => c.codes.length === 2, 'a live code on the remaining Socket.IO client');
      await bystander.waitFor('code', 2);
      assert.deepEqual(c.codes, [id, next.id]);
      assert.deepEqual(bystander.codeIds(), [id, next.id]);
      assert.equal((await ack(next.id)).first, true);
      assert.equal((await t.api('GET', '/healthz', { token: null })).status, 200);
    } finally {
      c.socket.close();
      victim.socket.close();
      bystander.end();
    }
  });

  test('a bad since is refused: WebSocket close 4400, Socket.IO connect_error invalid_request', async () => {
    for (const since of ['abc', '-1', '1.5', '1e3', '99999999999999999']) {
      const refused = await WsRecorder.open(wsUrl(t, user.token, `&since=${encodeURIComponent(since)}`));
      try {
        assert.deepEqual(await refused.waitForClose(), { code: 4400, reason: 'invalid_request' }, `since=${since}`);
        assert.equal(refused.messages.length, 0, 'no hello before the refusal');
      } finally {
        refused.end();
      }
    }
    for (const since of ['abc', -1, 1.5, '1e3', true, { id: 1 }]) {
      const socket = io(t.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: user.token, since } });
      try {
        const err = await new Promise<any>((resolve, reject) => {
          socket.once('connect_error', resolve);
          socket.once('connect', () => reject(new Error(`connected with since=${JSON.stringify(since)}`)));
        });
        assert.equal(err.data?.error, 'invalid_request', `auth.since ${JSON.stringify(since)}`);
        assert.equal(typeof err.data?.message, 'string');
      } finally {
        socket.close();
      }
    }
    // A well-formed since on both still works.
    const ok = await WsRecorder.open(wsUrl(t, user.token, '&since=0'));
    try {
      await ok.waitFor('hello');
      assert.equal(ok.close, undefined);
    } finally {
      ok.end();
    }
    await waitFor(() => t.server.hub.stats().connections === 0, 'every refused connection to be gone');
  });

  test('a WebSocket upgrade on an unknown path gets HTTP 404', async () => {
    for (const path of ['/nowhere', '/api/v1/ws/extra', '/api/v1/wss']) {
      const ws = new WebSocket(`${wsBase(t)}${path}?token=${encodeURIComponent(user.token)}`);
      ws.on('error', () => undefined); // terminate() below aborts the handshake with an error event
      try {
        const status = await new Promise<number>((resolve, reject) => {
          ws.once('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
          });
          ws.once('open', () => reject(new Error(`${path} opened`)));
          ws.once('error', reject);
        });
        assert.equal(status, 404, path);
      } finally {
        ws.terminate();
      }
    }
    // A raw client sees the same 404, then the server closes the connection.
    const raw = await RawWsClient.open(t.url, '/nowhere');
    try {
      assert.equal(raw.status, 404);
      await raw.waitForClose();
    } finally {
      raw.destroy();
    }
    assert.equal((await t.api('GET', '/healthz', { token: null })).status, 200);
  });
});
