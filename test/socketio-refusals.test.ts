// A Socket.IO client refused on every namespace it asked for is closed as
// soon as its refusal is sent (issue 13): socket.io would keep it until its
// connect timeout, and python-socketio's connect() waited on it. socket.io-
// client closes its own side on a refusal, so the clients that show the
// server doing it are ones that do not: engine.io spoken by hand, over
// WebSocket and over long-polling. A client refused on one namespace while
// it holds, or is being admitted to, another keeps its connection; so does
// one that asks for another namespace soon after a refusal (socket.io-client
// over long-polling sends each CONNECT once the previous is answered).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Manager, type Socket } from 'socket.io-client';
import { REFUSAL_GRACE_MS } from '../src/transports/socketio/namespace-attempts.js';
import { RawSocketIoClient } from './support/raw-clients.js';
import { FreezingProxy } from './support/freezing-proxy.js';
import { createStoreDatabase, startTestServer, type StoreDatabase, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const BAD_TOKEN = 'cc_not-a-token-of-this-server-0123456789abcdefghij';
/** Far above what the tests wait: only the refusal can close a session that soon. */
const LONG = { CODECAST_AUTH_TIMEOUT_SECONDS: '30' };
const pendingOf = (t: TestServer) => (t.server.stats() as { pending: { pending: number } }).pending.pending;

/** The engine.io packets of one long-polling response (separated by the record separator). */
async function poll(url: string): Promise<{ status: number; packets: string[] }> {
  const res = await fetch(url);
  const body = await res.text();
  return { status: res.status, packets: body.split('\x1e') };
}

describe('a client refused on every namespace it asked for', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(LONG);
  });
  after(async () => t?.stop());

  test('over WebSocket: the refusal, then a close frame at once, then the connection cut', async () => {
    const pendingBefore = pendingOf(t);
    const client = await RawSocketIoClient.open(t.url, { token: BAD_TOKEN });
    try {
      await waitFor(() => client.connectAnswer() === 'refused', 'the refusal');
      const refusal = client.packets().find((p) => p.startsWith('44'));
      assert.match(refusal ?? '', /"error":"unauthorized"/);
      await waitFor(() => client.ws.closeFrame() !== undefined, 'the close frame', 3000);
      // The refusal was flushed before the close, not discarded.
      const frames = client.ws.frames.map((f) => f.opcode);
      assert.ok(frames.indexOf(1) < frames.indexOf(8), `frames in order: ${frames.join(',')}`);
      // This client never answers the close frame: it is cut, not held for ws's 30 s.
      await client.ws.waitForClose(5000);
      await waitFor(() => pendingOf(t) <= pendingBefore, 'its pending place given back', 2000);
    } finally {
      client.destroy();
    }
  });

  test('over long-polling: the refusal comes with the next poll, and the session is gone after it', async () => {
    const base = `${t.url}/socket.io/?EIO=4&transport=polling`;
    const open = await poll(base);
    assert.equal(open.status, 200);
    const sid = (JSON.parse((open.packets[0] ?? '').slice(1)) as { sid: string }).sid;
    const session = `${base}&sid=${sid}`;
    const sent = await fetch(session, { method: 'POST', body: `40${JSON.stringify({ token: BAD_TOKEN })}` });
    assert.equal(sent.status, 200);
    const answer = await poll(session);
    assert.ok(
      answer.packets.some((p) => p.startsWith('44') && p.includes('"unauthorized"')),
      `the refusal: ${answer.packets.join(' | ')}`,
    );
    // Kept, the session would hold this poll until engine.io's next ping
    // (15 s). Closed, it answers it with engine.io's close packet ("1").
    const started = Date.now();
    const next = await poll(session);
    assert.deepEqual(next, { status: 200, packets: ['1'] });
    assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    assert.equal((await poll(session)).status, 400, 'the session is gone');
  });
});

describe('a client refused twice is closed a grace after its last refusal, not its first', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(LONG);
  });
  after(async () => t?.stop());

  // Refusals at 0 s and 0.6 s; a third namespace request at 1.2 s, past a
  // grace counted from the first, within one counted from the last.
  test('a namespace asked for 1.2 s after the first refusal and 0.6 s after the second is admitted', async () => {
    const { token } = await t.createUser('refused-twice');
    const badSince = { token, since: 'yesterday' };
    const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
    const refusals = (client: RawSocketIoClient) => client.packets().filter((p) => p.startsWith('44'));
    const client = await RawSocketIoClient.open(t.url, badSince);
    try {
      await waitFor(() => refusals(client).length === 1, 'the first refusal');
      const first = Date.now();
      await sleepUntil(first + 0.6 * REFUSAL_GRACE_MS);
      client.ws.send(`40/events,${JSON.stringify(badSince)}`);
      await waitFor(() => refusals(client).length === 2, 'the second refusal');
      const second = Date.now();
      assert.match(refusals(client)[1] ?? '', /^44\/events,.*"invalid_request"/);
      await sleepUntil(first + 1.2 * REFUSAL_GRACE_MS);
      assert.equal(client.ws.closeFrame(), undefined, 'open 1.2 s after the first refusal');
      client.ws.send(`40${JSON.stringify({ token })}`);
      await waitFor(() => client.packets().some((p) => p.startsWith('40{"sid"')), '/ admitted');
      // Past a grace after the second refusal, the admitted namespace holds the connection.
      await sleepUntil(second + REFUSAL_GRACE_MS + 200);
      const published = await t.publish('REFUSED-TWICE');
      await waitFor(
        () => client.events().some(([name, code]) => name === 'new_code' && (code as { id: number }).id === published.id),
        'the code',
      );
      assert.equal(client.ws.closeFrame(), undefined);
    } finally {
      client.destroy();
    }
  });

  test('with nothing asked for after the second refusal, it is closed a grace after that one', async () => {
    const client = await RawSocketIoClient.open(t.url, { token: BAD_TOKEN });
    try {
      await waitFor(() => client.connectAnswer() === 'refused', 'the first refusal');
      const first = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 0.6 * REFUSAL_GRACE_MS));
      client.ws.send(`40/events,${JSON.stringify({ token: BAD_TOKEN })}`);
      await waitFor(() => client.packets().filter((p) => p.startsWith('44')).length === 2, 'the second refusal');
      const second = Date.now();
      await waitFor(() => client.ws.closeFrame() !== undefined, 'the close frame', 3000);
      const closedAt = Date.now();
      assert.ok(closedAt >= second + REFUSAL_GRACE_MS - 50, `closed ${closedAt - second} ms after the second refusal`);
      assert.ok(closedAt > first + REFUSAL_GRACE_MS + 0.5 * REFUSAL_GRACE_MS, `closed ${closedAt - first} ms after the first`);
    } finally {
      client.destroy();
    }
  });
});

describe('a client refused on one namespace and admitted on another keeps its connection', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(LONG);
  });
  after(async () => t?.stop());

  for (const transports of [['websocket'], ['polling', 'websocket']] as const) {
    for (const refusedFirst of [false, true]) {
      const order = refusedFirst ? '/events refused, then /' : '/, then /events refused';
      test(`socket.io-client over ${transports.join('+')}: ${order}`, async () => {
        const { token } = await t.createUser(`both-${transports.length}-${refusedFirst}`);
        const manager = new Manager(t.url, { reconnection: false, transports: [...transports] });
        const sockets: Socket[] = [];
        const open = (nsp: string, auth: object) => sockets.push(manager.socket(nsp, { auth }));
        if (refusedFirst) open('/events', { token: BAD_TOKEN });
        open('/', { token });
        if (!refusedFirst) open('/events', { token: BAD_TOKEN });
        const [admitted, refused] = (refusedFirst ? [sockets[1], sockets[0]] : sockets) as [Socket, Socket];
        let refusal: string | undefined;
        let disconnect: string | undefined;
        const codes: string[] = [];
        refused.on('connect_error', (err: Error & { data?: { error?: string } }) => {
          refusal = err.data?.error;
        });
        admitted.on('disconnect', (reason) => {
          disconnect = reason;
        });
        admitted.on('new_code', (code: { code: string }) => codes.push(code.code));
        try {
          await waitFor(() => refusal !== undefined && admitted.connected, 'one refused, one admitted');
          assert.equal(refusal, 'unauthorized');
          // Past the moment a close would have come, codes still arrive.
          await new Promise((resolve) => setTimeout(resolve, REFUSAL_GRACE_MS + 200));
          const code = `BOTH-${transports.length}-${refusedFirst}`;
          await t.publish(code);
          await waitFor(() => codes.includes(code), 'the code on the admitted namespace');
          assert.equal(disconnect, undefined);
          assert.equal(manager.engine.readyState, 'open');
        } finally {
          for (const socket of sockets) socket.disconnect();
        }
      });
    }
  }
});

// A namespace whose admission outlasts the grace: its token's lookup waits
// on a PostgreSQL that has stopped answering (a proxy holding its bytes),
// while the client's other namespace is refused for a bad `since`, which
// needs no lookup. The refusal must not close what the admission is about
// to hold.
describe('a refusal while another namespace is being admitted', () => {
  let database: StoreDatabase;
  let proxy: FreezingProxy;
  let t: TestServer;
  before(async () => {
    database = await createStoreDatabase('postgres', 'underway');
    const target = new URL(database.url);
    proxy = await FreezingProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    t = await startTestServer({ ...LONG, DATABASE_URL: viaProxy.toString() }, { database });
  });
  after(async () => {
    proxy?.thaw();
    await t?.stop();
    await proxy?.close();
    await database?.drop();
  });

  test('does not close the connection the other namespace gets', async () => {
    const { token } = await t.createUser('under-way');
    proxy.freeze();
    const client = await RawSocketIoClient.open(t.url, { token }, '/events');
    try {
      client.ws.send(`40${JSON.stringify({ token, since: 'yesterday' })}`);
      await waitFor(() => client.connectAnswer() === 'refused', 'the refusal of /');
      assert.match(client.packets().find((p) => p.startsWith('44')) ?? '', /"error":"invalid_request"/);
      await new Promise((resolve) => setTimeout(resolve, REFUSAL_GRACE_MS + 500));
      assert.equal(client.ws.closeFrame(), undefined, 'not closed while /events is being admitted');
      proxy.thaw();
      await waitFor(() => client.packets().some((p) => p.startsWith('40/events,{"sid"')), '/events admitted');
      const published = await t.publish('UNDER-WAY');
      await waitFor(
        () => client.packets().some((p) => p.startsWith('42/events,["new_code"') && p.includes(`"id":${published.id}`)),
        'the code on /events',
      );
      assert.equal(client.ws.closeFrame(), undefined);
    } finally {
      proxy.thaw();
      client.destroy();
    }
  });
});
