// Ways around the issue-9 limits that a review found, each done for real:
// Socket.IO sessions that leave their namespace or are refused by a cap,
// keep-alive connections that never authenticate, fragment floods, and
// acks of a revoked code that has left the history.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const QUIET = { CODECAST_AUTH_POLL_MS: '600000' };
const pendingOf = (t: TestServer) => (t.server.stats() as { pending: { pending: number } }).pending.pending;

/** An engine.io WebSocket session that asks to join `/` with `token`; answers the session and the server's answer. */
function rawSession(t: TestServer, token: string): Promise<{ ws: WebSocket; answer: string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const closed = new Promise<void>((done) => ws.once('close', () => done()));
    ws.on('error', reject);
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (text === '2')
        ws.send('3'); // answer engine.io's heartbeat: only a defence ends it
      else if (text.startsWith('40') || text.startsWith('44')) resolve({ ws, answer: text, closed });
    });
  });
}

describe('Socket.IO sessions count until they hold a namespace', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_MAX_CONNECTIONS_PER_USER: '1', CODECAST_AUTH_TIMEOUT_SECONDS: '1', ...QUIET });
  });
  after(async () => t?.stop());

  test('a session that joins and then leaves its only namespace is closed', async () => {
    const user = await t.createUser('leaver');
    const sessions = [];
    for (let i = 0; i < 5; i++) {
      const session = await rawSession(t, user.token);
      assert.match(session.answer, /^40/);
      session.ws.send('41'); // leave the namespace, keep the engine.io session
      sessions.push(session);
    }
    // Closed by the server, not by a timeout: none is left counted nowhere.
    await Promise.all(sessions.map((s) => s.closed));
    await waitFor(() => t.server.hub.stats().connections === 0, 'no connection left');
  });

  test('a session refused by a cap is closed, and its pending place given back', async () => {
    const user = await t.createUser('capped');
    const first = io(t.url, { auth: { token: user.token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      first.once('connect', () => resolve());
      first.once('connect_error', reject);
    });
    const before = pendingOf(t);
    const refused = await rawSession(t, user.token);
    assert.match(refused.answer, /^44.*too_many_connections_for_user/);
    // It counts as pending until it closes: once its refusal is sent (soon
    // after, socketio-refusals.test.ts) or, at the latest, at the auth timeout.
    await refused.closed;
    await waitFor(() => pendingOf(t) <= before, 'its place given back');
    first.disconnect();
  });
});

describe('connections that never authenticate', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      CODECAST_MAX_PENDING_PER_ADDRESS: '5',
      CODECAST_MAX_PENDING_CONNECTIONS: '10',
      CODECAST_AUTH_TIMEOUT_SECONDS: '1',
      ...QUIET,
    });
  });
  after(async () => t?.stop());

  test('requests without a token do not keep a counted connection alive', async () => {
    const held: Socket[] = [];
    const answers: string[] = [];
    for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 5; i++) {
        const socket = connect({ host: '127.0.0.1', port: t.server.port, localAddress });
        socket.on('error', () => undefined);
        socket.on('data', (chunk) => answers.push(chunk.toString()));
        await new Promise((resolve) => socket.once('connect', resolve));
        held.push(socket);
      }
    }
    const poke = () => {
      for (const socket of held) if (!socket.destroyed) socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    };
    poke();
    const timer = setInterval(poke, 300);
    try {
      await waitFor(
        () => held.every((socket) => socket.destroyed || socket.readableEnded),
        'every unauthenticated connection closed',
        4000,
      );
    } finally {
      clearInterval(timer);
    }
    assert.ok(
      answers.some((a) => /^HTTP\/1\.1 200/.test(a) && /connection: close/i.test(a)),
      'answered, with Connection: close',
    );
    for (const socket of held) socket.destroy();
    // The budget is free for an admin who comes next.
    await waitFor(() => pendingOf(t) === 0, 'no pending connection');
    const res = await t.api('POST', '/api/v1/codes', { body: { code: 'ADMIN-NOT-LOCKED-OUT' } });
    assert.equal(res.status, 201);
  });
});

describe('floods the message budget cannot see, and acks beyond history', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_HISTORY: '2', CODECAST_DEDUP_SECONDS: '0', ...QUIET });
  });
  after(async () => t?.stop());

  test('a message split into more fragments than allowed closes the connection (1008, ws: too many fragments)', async () => {
    const user = await t.createUser('fragmenter');
    const { id } = await t.publish('FRAG-1');
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/api/v1/ws?token=${user.token}`);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('error', () => undefined);
    await new Promise((resolve) => ws.once('message', resolve)); // hello
    const frame = (fin: boolean, opcode: number, payload: Buffer) =>
      Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
    // One ack made of a first frame, 1,000 empty continuations and a last one.
    const parts = [frame(false, 1, Buffer.alloc(0))];
    for (let i = 0; i < 1000; i++) parts.push(frame(false, 0, Buffer.alloc(0)));
    parts.push(frame(true, 0, Buffer.from(JSON.stringify({ type: 'ack', id }))));
    (ws as unknown as { _socket: Socket })._socket.write(Buffer.concat(parts));
    assert.equal(await closed, 1008);
  });

  for (const when of ['loaded from the database', 'acked while held'] as const) {
    test(`an ack of a revoked code that has left the history is refused (${when})`, async () => {
      const a = await t.createUser(`early-${when.length}`);
      const b = await t.createUser(`late-${when.length}`);
      const { id } = await t.publish(`OLD-${when.length}-1`);
      if (when === 'acked while held') assert.equal((await t.api('POST', `/api/v1/codes/${id}/ack`, { token: a.token })).status, 200);
      await t.publish(`OLD-${when.length}-2`);
      await t.publish(`OLD-${when.length}-3`); // the first has left the history (2)
      if (when === 'loaded from the database')
        assert.equal((await t.api('POST', `/api/v1/codes/${id}/ack`, { token: a.token })).status, 200);
      assert.equal((await t.api('DELETE', `/api/v1/codes/${id}`)).status, 200);
      const again = await t.api('POST', `/api/v1/codes/${id}/ack`, { token: b.token });
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'code_revoked');
    });
  }
});
