// Issue 9, "Acks": a client that floods (acks, any message, pings) is cut
// off with a documented reason on every transport while everyone else keeps
// receiving every code, and acks cost statements per batch, not per ack.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { connectSubscriber, type Subscriber, type TransportKind } from './support/clients.js';
import { parsePrometheus } from './support/prometheus.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const QUIET = { CODECAST_AUTH_POLL_MS: '600000' };

let t: TestServer;
let ordinary: { id: number; token: string };
/** The ordinary user of the HTTP flood's own server. */
let bystanderToken: string;

before(async () => {
  // The default budget: what a real deployment runs with is what must cut a
  // flood off. The auth watcher polls the database every second by default:
  // slowed down, it cannot be taken for a statement an ack ran.
  t = await startTestServer({ CODECAST_MAX_CONNECTIONS_PER_USER: '50', ...QUIET });
  ordinary = await t.createUser('ordinary');
});
after(async () => {
  await t?.stop();
});

let attackers = 0;
/** A user of its own for each flood: a flooding user cools off (CODECAST_FLOOD_COOLOFF_SECONDS) before it may connect again. */
const freshAttacker = () => t.createUser(`flooder-${++attackers}`);

const queries = () => t.server.store.queryCount;
/**
 * Waits until the server has run no statement for a while: a publish's
 * bookkeeping (delivery counts) is written after it is answered, and must
 * not be taken for the cost of the acks measured next.
 */
async function quiet(): Promise<number> {
  let last = -1;
  while (last !== queries()) {
    last = queries();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return last;
}
const pendingSessions = () => (t.server.stats() as { pending: { pending: number } }).pending.pending;
const closesFor = (reason: string) => (t.server.stats() as { closes: Record<string, number> }).closes[reason] ?? 0;
async function closedMetric(transport: string): Promise<number> {
  const scrape = parsePrometheus(await (await fetch(`${t.url}/metrics`)).text());
  return scrape.sum('codecast_connections_closed_total', { transport, reason: 'too_many_messages' });
}

function wsUrl(token: string): string {
  return `${t.url.replace(/^http/, 'ws')}/api/v1/ws?token=${token}`;
}

/** A plain ws client that records the frames it gets and how it was closed. */
async function openWs(token: string): Promise<{ ws: WebSocket; frames: any[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(wsUrl(token));
  const frames: any[] = [];
  ws.on('message', (raw) => frames.push(JSON.parse(raw.toString())));
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await waitFor(() => frames.some((f) => f.type === 'hello'), 'ws hello');
  return { ws, frames, closed };
}

/** Sends as fast as the client library takes it, until the socket is no longer open. */
function floodWs(ws: WebSocket, send: (ws: WebSocket) => void, max = 50_000): number {
  let sent = 0;
  while (sent < max && ws.readyState === WebSocket.OPEN) {
    send(ws);
    sent++;
  }
  return sent;
}

async function openSocketIo(
  token: string,
  transport: 'websocket' | 'polling',
  namespace = '/',
): Promise<{ socket: Socket; closing: any[]; disconnected: Promise<string> }> {
  const socket = io(`${t.url}${namespace === '/' ? '' : namespace}`, {
    path: '/socket.io/',
    transports: [transport],
    auth: { token },
    forceNew: true,
    // Left on: a client told by the server to go must not come back by itself.
    reconnection: true,
  });
  const closing: any[] = [];
  socket.on('closing', (data) => closing.push(data));
  const disconnected = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
  await new Promise<void>((resolve, reject) => {
    socket.once('hello', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, closing, disconnected };
}

/** Ordinary subscribers, one per transport, that must miss nothing while someone floods. */
async function bystanders(server: TestServer = t): Promise<Subscriber[]> {
  const kinds: [TransportKind, ('polling' | 'websocket')[] | undefined][] = [
    ['sse', undefined],
    ['ws', undefined],
    ['socketio', ['websocket']],
    ['socketio', ['polling']],
  ];
  return Promise.all(
    kinds.map(([kind, engineTransports]) =>
      connectSubscriber(kind, server.url, {
        token: server === t ? ordinary.token : bystanderToken,
        ...(engineTransports ? { engineTransports } : {}),
      }),
    ),
  );
}

/** Publishes `count` codes one after another while `during` runs; answers their ids. */
async function publishDuring(prefix: string, count: number, during: Promise<unknown>, server: TestServer = t): Promise<number[]> {
  const ids: number[] = [];
  const publishing = (async () => {
    for (let i = 0; i < count; i++) ids.push((await server.publish(`${prefix}-${i}`)).id);
  })();
  await Promise.all([publishing, during]);
  return ids;
}

async function assertEveryoneGot(subscribers: Subscriber[], ids: number[]): Promise<void> {
  for (const subscriber of subscribers) {
    await waitFor(() => ids.every((id) => subscriber.codeIds.includes(id)), `every code over ${subscriber.transport}`);
    assert.equal(subscriber.status, 'open', `${subscriber.transport} bystander still open`);
    const got = subscriber.codeIds.filter((id) => ids.includes(id));
    assert.deepEqual(got, ids, `${subscriber.transport} got them in order, once each`);
  }
}

describe('a flood is cut off; everyone else receives every code', () => {
  test('WebSocket ack flood: closed 4429 too_many_messages', async () => {
    const attacker = await freshAttacker();
    const subscribers = await bystanders();
    const { id } = await t.publish('WS-FLOOD-TARGET');
    const before = closesFor('too_many_messages');
    const metricBefore = await closedMetric('ws');
    const { ws, closed } = await openWs(attacker.token);
    const frame = JSON.stringify({ type: 'ack', id });
    const flood = (async () => {
      let sent = 0;
      // In bursts, letting the event loop turn so the close can arrive.
      while (ws.readyState === WebSocket.OPEN && sent < 200_000) {
        sent += floodWs(ws, (w) => w.send(frame), 2000);
        await new Promise((resolve) => setImmediate(resolve));
      }
      return sent;
    })();
    const ids = await publishDuring('WS-FLOOD', 10, closed);
    assert.deepEqual(await closed, { code: 4429, reason: 'too_many_messages' });
    assert.ok((await flood) > 1000, 'the attacker sent more than the burst');
    await assertEveryoneGot(subscribers, ids);
    assert.equal(closesFor('too_many_messages'), before + 1);
    assert.equal(await closedMetric('ws'), metricBefore + 1);
    for (const subscriber of subscribers) await subscriber.close();
  });

  test('WebSocket ping flood: closed 4429 too_many_messages', async () => {
    const attacker = await freshAttacker();
    const subscribers = await bystanders();
    const { ws, closed } = await openWs(attacker.token);
    const flood = (async () => {
      while (ws.readyState === WebSocket.OPEN) {
        floodWs(ws, (w) => w.ping(), 2000);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const ids = await publishDuring('PING-FLOOD', 10, closed);
    assert.deepEqual(await closed, { code: 4429, reason: 'too_many_messages' });
    await flood;
    await assertEveryoneGot(subscribers, ids);
    for (const subscriber of subscribers) await subscriber.close();
  });

  for (const transport of ['websocket', 'polling'] as const) {
    test(`Socket.IO ack flood over ${transport}: closing too_many_messages, then a server disconnect`, async () => {
      const attacker = await freshAttacker();
      const subscribers = await bystanders();
      const { id } = await t.publish(`SIO-${transport}-TARGET`);
      const before = closesFor('too_many_messages');
      const metricBefore = await closedMetric('socketio');
      const { socket, closing, disconnected } = await openSocketIo(attacker.token, transport);
      // Both namespaces of the one client: the flood closes both.
      const second = await openSocketIo(attacker.token, transport, '/events');
      const flood = (async () => {
        let sent = 0;
        while (socket.connected && sent < 200_000) {
          for (let i = 0; i < 500; i++) socket.emit('ack', id);
          sent += 500;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        return sent;
      })();
      const ids = await publishDuring(`SIO-${transport}-FLOOD`, 10, disconnected);
      assert.equal(await disconnected, 'io server disconnect');
      assert.deepEqual(closing, [{ reason: 'too_many_messages' }]);
      assert.equal(socket.active, false, 'told not to reconnect');
      assert.ok((await flood) > 1000);
      await assertEveryoneGot(subscribers, ids);
      // The second client is on its own engine.io connection (forceNew): it
      // did not flood and is still open.
      assert.equal(second.socket.connected, true);
      second.socket.disconnect();
      assert.equal(closesFor('too_many_messages'), before + 1);
      assert.equal(await closedMetric('socketio'), metricBefore + 1);
      for (const subscriber of subscribers) await subscriber.close();
    });
  }

  test('Socket.IO: one client flooding through two namespaces is closed in both', async () => {
    const attacker = await freshAttacker();
    const { id } = await t.publish('SIO-TWO-NS');
    const before = closesFor('too_many_messages');
    const manager = io(t.url, { path: '/socket.io/', transports: ['websocket'], auth: { token: attacker.token }, forceNew: true }).io;
    const main = manager.socket('/', { auth: { token: attacker.token } });
    const events = manager.socket('/events', { auth: { token: attacker.token } });
    const reasons: string[] = [];
    for (const socket of [main, events]) {
      socket.on('disconnect', (reason) => reasons.push(reason));
      socket.connect();
    }
    await waitFor(() => main.connected && events.connected, 'both namespaces connected');
    while (main.connected || events.connected) {
      for (let i = 0; i < 500; i++) main.emit('ack', id);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor(() => reasons.length === 2, 'both namespaces disconnected');
    assert.deepEqual(reasons, ['io server disconnect', 'io server disconnect']);
    assert.equal(closesFor('too_many_messages'), before + 2);
  });

  // Before a namespace admits it, an engine.io session is anyone's: no token
  // is needed to open one. It is budgeted from its handshake, or it could
  // send freely until the auth timeout (10 s here, the default).
  for (const [kind, packet] of [
    ['noop', '6'],
    ['connect-to-an-unknown-namespace', '40/nowhere,'],
  ] as const) {
    test(`Socket.IO session that joins no namespace and floods ${kind} packets: closed well before the auth timeout`, async () => {
      const subscribers = await bystanders();
      const pendingBefore = pendingSessions();
      const closesBefore = closesFor('too_many_messages');
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
      ws.on('error', () => undefined);
      const closed = new Promise<number>((resolve) => ws.once('close', () => resolve(Date.now())));
      // engine.io's open packet: the session exists and has joined nothing.
      await new Promise<void>((resolve) => ws.once('message', () => resolve()));
      const started = Date.now();
      const flood = (async () => {
        let sent = 0;
        while (ws.readyState === WebSocket.OPEN && sent < 2_000_000) {
          sent += floodWs(ws, (w) => w.send(packet), 2000);
          await new Promise((resolve) => setImmediate(resolve));
        }
        return sent;
      })();
      const ids = await publishDuring(`SIO-PREJOIN-${kind}`, 10, closed);
      const tookMs = (await closed) - started;
      assert.ok(tookMs < 5000, `closed after ${tookMs} ms; the auth timeout is 10 s`);
      assert.ok((await flood) > 1000, 'the flooder sent more than the burst');
      await assertEveryoneGot(subscribers, ids);
      await waitFor(() => pendingSessions() <= pendingBefore, 'its pending place given back');
      // No namespace was closed, and no user is known to cool off.
      assert.equal(closesFor('too_many_messages'), closesBefore);
      for (const subscriber of subscribers) await subscriber.close();
    });
  }

  test('HTTP ack flood: 429 too_many_messages with Retry-After, and the user may ack again later', async () => {
    // A user's HTTP acks share the budget of all the connections it may
    // hold; a small budget keeps the flood short.
    const h = await startTestServer({ CODECAST_INBOUND_RATE: '20', CODECAST_INBOUND_BURST: '50', CODECAST_MAX_CONNECTIONS_PER_USER: '4' });
    try {
      const flooder = await h.createUser('http-flooder');
      const other = await h.createUser('http-ordinary');
      bystanderToken = other.token;
      const subscribers = await bystanders(h);
      const { id } = await h.publish('HTTP-FLOOD');
      const ack = (token = flooder.token) =>
        fetch(`${h.url}/api/v1/codes/${id}/ack`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      let refused: Response | undefined;
      let sent = 0;
      const flood = (async () => {
        while (!refused && sent < 20_000) {
          const answers = await Promise.all(Array.from({ length: 50 }, () => ack()));
          sent += 50;
          refused = answers.find((res) => res.status === 429);
          for (const res of answers) if (res !== refused) await res.body?.cancel();
        }
      })();
      const ids = await publishDuring('HTTP-FLOOD', 10, flood, h);
      await assertEveryoneGot(subscribers, ids);
      for (const subscriber of subscribers) await subscriber.close();
      assert.ok(refused, 'a flood of HTTP acks is refused');
      // 4 connections' worth: a burst of 200.
      assert.ok(sent > 200, 'not before the burst is spent');
      const body = (await refused.json()) as { error: string; message: string };
      assert.equal(body.error, 'too_many_messages');
      assert.equal(typeof body.message, 'string');
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 1);
      // Another user is not held back by it.
      assert.equal((await ack(other.token)).status, 200);
      // The budget refills: after the wait it names, the flooder may ack again.
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
      assert.equal((await ack()).status, 200);
    } finally {
      await h.stop();
    }
  });

  test('a user cut for flooding cools off: no new connection on any transport until the cool-off ends', async () => {
    const c = await startTestServer({ CODECAST_FLOOD_COOLOFF_SECONDS: '4', ...QUIET });
    try {
      const flooder = await c.createUser('cooling-flooder');
      const other = await c.createUser('cooling-other');
      const ws = new WebSocket(`${c.url.replace(/^http/, 'ws')}/api/v1/ws?token=${flooder.token}`);
      ws.on('error', () => undefined);
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      await new Promise((resolve) => ws.once('open', resolve));
      while (ws.readyState === WebSocket.OPEN) {
        floodWs(ws, (w) => w.send('{"type":"ack","id":1}'), 2000);
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.deepEqual(await closed, { code: 4429, reason: 'too_many_messages' });
      // Every transport refuses the flooder's reconnect, with the wait.
      for (const kind of ['sse', 'ws', 'socketio'] as const) {
        const again = await connectSubscriber(kind, c.url, { token: flooder.token });
        assert.equal(again.status, 'refused', `${kind} reconnect refused`);
        assert.equal(again.refusal, 'too_many_messages', `${kind} told why`);
        if (kind === 'ws') assert.equal(again.closeInfo?.code, 4429);
        if (kind === 'sse') assert.equal(again.closeInfo?.code, 429);
      }
      const sse = await fetch(`${c.url}/api/v1/stream`, { headers: { authorization: `Bearer ${flooder.token}` } });
      assert.equal(sse.status, 429);
      assert.ok(Number(sse.headers.get('retry-after')) >= 1);
      await sse.body?.cancel();
      // Another user is not held back.
      const fine = await connectSubscriber('ws', c.url, { token: other.token });
      assert.equal(fine.status, 'open');
      await fine.close();
      // Once it has cooled off, the flooder may connect again.
      await new Promise((resolve) => setTimeout(resolve, 4100));
      const back = await connectSubscriber('ws', c.url, { token: flooder.token });
      assert.equal(back.status, 'open');
      await back.close();
    } finally {
      await c.stop();
    }
  });

  test('a client acking a whole replay at once stays inside the budget', async () => {
    const { id } = await t.publish('WELL-BEHAVED');
    const { ws, frames } = await openWs(ordinary.token);
    // 800 acks in one go: more than a full default history (100) acked on reconnect.
    for (let i = 0; i < 800; i++) ws.send(JSON.stringify({ type: 'ack', id }));
    // An ack of an unknown code is answered: every ack before it has been read.
    ws.send(JSON.stringify({ type: 'ack', id: 1e12 }));
    await waitFor(() => frames.some((f) => f.type === 'error'), 'the answer to the last ack');
    assert.equal(frames.find((f) => f.type === 'error').data.error, 'code_not_found');
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  });
});

describe('acks cost statements per batch, not per ack', () => {
  test('repeated acks of one code cost no statement; N distinct acks cost O(batches)', async () => {
    const socket = (await openSocketIo(ordinary.token, 'websocket')).socket;
    const ids: number[] = [];
    // Fewer than the history holds (100): codes judged from memory alone.
    for (let i = 0; i < 90; i++) ids.push((await t.publish(`BATCH-${i}`)).id);
    const first = await socket.emitWithAck('ack', ids[0]);
    assert.equal(first.first, true);
    // Written out, so that what follows starts from nothing pending.
    assert.equal((await t.api('GET', `/api/v1/codes/${ids[0]}`)).body.acks.users, 1);

    const beforeRepeats = await quiet();
    const repeats = await Promise.all(Array.from({ length: 500 }, () => socket.emitWithAck('ack', ids[0])));
    assert.ok(repeats.every((r) => r.first === false && r.id === ids[0]));
    assert.equal(queries(), beforeRepeats, '500 repeated acks ran no statement');

    const beforeDistinct = await quiet();
    const answers = await Promise.all(ids.slice(1).map((id) => socket.emitWithAck('ack', id)));
    assert.ok(answers.every((r) => r.first === true));
    const figures = await t.api('GET', `/api/v1/codes/${ids.at(-1)}`);
    assert.equal(figures.body.acks.users, 1);
    const spent = queries() - beforeDistinct;
    // 89 acks: a batch or two (begin, a handful of inserts, commit) and the
    // two reads of GET /codes/:id; the old path ran two statements per ack.
    assert.ok(spent <= 20, `89 distinct acks and one read of figures cost ${spent} statements`);

    const beforeUnknown = await quiet();
    const unknown = await socket.emitWithAck('ack', 1e12);
    assert.equal(unknown.error, 'code_not_found');
    assert.equal(queries(), beforeUnknown, 'an id past every code is unknown without a look');
    socket.disconnect();
  });

  test('the same over WebSocket: a repeated ack flood within budget runs no statement', async () => {
    const { id } = await t.publish('WS-REPEAT');
    const { ws, frames } = await openWs(ordinary.token);
    await fetch(`${t.url}/api/v1/codes/${id}/ack`, { method: 'POST', headers: { authorization: `Bearer ${ordinary.token}` } });
    // Stored (GET /codes/:id writes pending acks first), so nothing is pending.
    assert.equal((await t.api('GET', `/api/v1/codes/${id}`)).body.acks.users, 1);
    const before = await quiet();
    for (let i = 0; i < 900; i++) ws.send(JSON.stringify({ type: 'ack', id }));
    ws.send(JSON.stringify({ type: 'ack', id: 1e12 }));
    await waitFor(() => frames.some((f) => f.type === 'error'), 'the answer to the last ack');
    assert.equal(queries(), before);
    ws.close();
  });
});

describe('acks of revoked and expired codes are refused, by one rule on every path', () => {
  test('HTTP, WebSocket and Socket.IO answer code_revoked (409) and code_expired (410)', async () => {
    const revoked = await t.publish('ACK-REVOKED');
    assert.equal((await t.api('DELETE', `/api/v1/codes/${revoked.id}`)).status, 200);
    const expiring = await t.publish('ACK-EXPIRED', { ttlSeconds: 1 });
    const live = await t.publish('ACK-LIVE');
    const record = await t.api('GET', `/api/v1/codes/${expiring.id}`);
    const wait = Date.parse(record.body.code.expiresAt) - Date.now() + 50;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

    const http = (id: number) => t.api('POST', `/api/v1/codes/${id}/ack`, { token: ordinary.token });
    const revokedHttp = await http(revoked.id);
    assert.equal(revokedHttp.status, 409);
    assert.equal(revokedHttp.body.error, 'code_revoked');
    const expiredHttp = await http(expiring.id);
    assert.equal(expiredHttp.status, 410);
    assert.equal(expiredHttp.body.error, 'code_expired');
    assert.equal(typeof expiredHttp.body.message, 'string');

    const { ws, frames } = await openWs(ordinary.token);
    ws.send(JSON.stringify({ type: 'ack', id: revoked.id }));
    ws.send(JSON.stringify({ type: 'ack', id: expiring.id }));
    ws.send(JSON.stringify({ type: 'ack', id: live.id }));
    await waitFor(() => frames.filter((f) => f.type === 'error').length >= 2, 'two error frames');
    assert.deepEqual(
      frames.filter((f) => f.type === 'error').map((f) => f.data.error),
      ['code_revoked', 'code_expired'],
    );
    assert.equal(ws.readyState, WebSocket.OPEN, 'a refused ack does not close the connection');
    ws.close();

    const { socket } = await openSocketIo(ordinary.token, 'websocket');
    const revokedSio = await socket.emitWithAck('ack', revoked.id);
    assert.equal(revokedSio.error, 'code_revoked');
    assert.equal(typeof revokedSio.message, 'string');
    assert.equal((await socket.emitWithAck('ack', expiring.id)).error, 'code_expired');
    // The live code is acked by the WebSocket frame above: once per user.
    assert.deepEqual({ ...(await socket.emitWithAck('ack', live.id)), latencyMs: 0 }, { id: live.id, first: false, latencyMs: 0 });
    socket.disconnect();
  });

  test('a code revoked after its first ack is refused from then on', async () => {
    const { id } = await t.publish('ACK-THEN-REVOKE');
    assert.equal((await t.api('POST', `/api/v1/codes/${id}/ack`, { token: ordinary.token })).body.first, true);
    assert.equal((await t.api('DELETE', `/api/v1/codes/${id}`)).status, 200);
    const again = await t.api('POST', `/api/v1/codes/${id}/ack`, { token: ordinary.token });
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'code_revoked');
    // The ack made before the revocation still counts.
    assert.equal((await t.api('GET', `/api/v1/codes/${id}`)).body.acks.users, 1);
  });
});

describe('the ack answer stays truthful beyond memory', () => {
  test('codes older than the history: judged from the database once, then from memory', async () => {
    const small = await startTestServer({ CODECAST_HISTORY: '2', ...QUIET });
    try {
      const user = await small.createUser('old-acker');
      const revoked = await small.publish('OLD-REVOKED');
      await small.api('DELETE', `/api/v1/codes/${revoked.id}`);
      const old = await small.publish('OLD-LIVE');
      for (let i = 0; i < 3; i++) await small.publish(`PUSH-OUT-${i}`);
      const ack = (id: number) => small.api('POST', `/api/v1/codes/${id}/ack`, { token: user.token });
      assert.equal((await ack(revoked.id)).body.error, 'code_revoked');
      assert.equal((await ack(old.id)).body.first, true);
      const before = small.server.store.queryCount;
      const again = await ack(old.id);
      assert.equal(again.body.first, false);
      assert.equal(small.server.store.queryCount, before, 'a repeated ack of an old code runs no statement');
      assert.equal((await ack(999_999)).body.error, 'code_not_found');
    } finally {
      await small.stop();
    }
  });

  test('after a restart a user who acked is told first: false, and counted once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codecast-acks-'));
    try {
      let server = await startTestServer({}, { dir });
      const user = await server.createUser('restart-acker');
      const { id } = await server.publish('ACK-ACROSS-RESTART');
      assert.equal((await server.api('POST', `/api/v1/codes/${id}/ack`, { token: user.token })).body.first, true);
      // Stopping writes what is pending.
      await server.stop();
      server = await startTestServer({}, { dir });
      try {
        const again = await server.api('POST', `/api/v1/codes/${id}/ack`, { token: user.token });
        assert.equal(again.status, 200);
        assert.equal(again.body.first, false);
        assert.equal((await server.api('GET', `/api/v1/codes/${id}`)).body.acks.users, 1);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('acks that cannot be written while the database is locked are kept and written later', async () => {
    const locked = await startTestServer();
    const locker = new Database(locked.databasePath);
    try {
      const user = await locked.createUser('busy-acker');
      const { id } = await locked.publish('ACK-WHILE-BUSY');
      locker.exec('BEGIN EXCLUSIVE');
      const answer = await locked.api('POST', `/api/v1/codes/${id}/ack`, { token: user.token });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.first, true);
      // Its figures try to write the pending ack first, and cannot: the
      // database is busy for the whole busy timeout, then the ack is kept.
      const during = await locked.api('GET', `/api/v1/codes/${id}`);
      assert.equal(during.status, 200);
      assert.equal(during.body.acks.users, 0);
      assert.equal((locked.server.stats() as { acks: { pending: number } }).acks.pending, 1);
      locker.exec('COMMIT');
      const afterwards = await locked.api('GET', `/api/v1/codes/${id}`);
      assert.equal(afterwards.body.acks.users, 1);
      assert.equal((locked.server.stats() as { acks: { pending: number } }).acks.pending, 0);
      assert.equal((await fetch(`${locked.url}/healthz`)).status, 200);
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
      await locked.stop();
    }
  });
});
