// Connections that have not authenticated are bounded per address and
// overall, and closed quickly: a flood of engine.io handshakes, idle or
// half-sent TCP connections, or unauthenticated upgrades cannot use up the
// server. Attackers connect from other loopback addresses (127.0.0.2 and
// up, all of 127/8 reaches the server on Linux) so the budget of the
// address the well-behaved clients use stays theirs.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { connectSubscriber, TRANSPORT_KINDS } from './support/clients.js';
import { clientAddress } from '../src/edge/index.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const PER_ADDRESS = 20;
const OVERALL = 50;

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * One GET on a fresh connection from `localAddress`; the connection closes
 * after the answer. A connection refused before its request was read may be
 * cut before the answer reaches the client: status 0.
 */
function rawGet(t: TestServer, path: string, localAddress: string): Promise<RawAnswer> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: Number(port), path, localAddress, agent: false, headers: { connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.message === 'socket hang up') resolve({ status: 0, headers: {}, body: '' });
      else reject(error);
    });
    req.end();
  });
}

/** A TCP connection from `localAddress` that sends nothing by itself, with all it is sent. */
async function idleSocket(t: TestServer, localAddress: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { port } = new URL(t.url);
  const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => received, closed };
}

const handshakePath = '/socket.io/?EIO=4&transport=polling';
const pendingOf = (t: TestServer) => (t.server.stats() as { pending: { pending: number } }).pending.pending;

describe('the budget of unauthenticated connections', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      CODECAST_MAX_PENDING_PER_ADDRESS: String(PER_ADDRESS),
      CODECAST_MAX_PENDING_CONNECTIONS: String(OVERALL),
      CODECAST_AUTH_TIMEOUT_SECONDS: '1',
      CODECAST_MAX_CONNECTIONS: String(PER_ADDRESS + 10),
      CODECAST_MAX_CONNECTIONS_PER_USER: String(PER_ADDRESS + 10),
    });
  });
  after(async () => {
    await t.stop();
  });

  test('a flood of Socket.IO handshakes that never join a namespace is capped, refused in our error shape, and timed out', async () => {
    const answers: RawAnswer[] = [];
    for (let wave = 0; wave < 20; wave++) {
      answers.push(...(await Promise.all(Array.from({ length: 10 }, () => rawGet(t, handshakePath, '127.0.0.2')))));
      assert.ok(pendingOf(t) <= PER_ADDRESS, `${pendingOf(t)} pending`);
    }
    const opened = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    assert.ok(opened.length >= 1 && opened.length <= PER_ADDRESS, `${opened.length} sessions opened`);
    assert.ok(
      opened.every((a) => a.body.startsWith('0{')),
      'an opened session answers the engine.io open packet',
    );
    assert.ok(refused.length >= 100, `${refused.length} refused with 429`);
    assert.equal(answers.filter((a) => a.status !== 200 && a.status !== 429 && a.status !== 0).length, 0);
    for (const answer of refused) {
      assert.equal(answer.headers['retry-after'], '2');
      assert.equal(JSON.parse(answer.body).error, 'too_many_pending_connections');
    }

    // A subscriber from another address is not held back by the flood.
    const ok = await connectSubscriber('socketio', t.url, { token: t.adminToken });
    assert.equal(ok.status, 'open');
    ok.close();

    // Sessions that join no namespace are closed after the auth timeout:
    // the places come back and a new handshake from that address opens.
    await waitFor(() => pendingOf(t) === 0, 'no pending connections');
    const sid = (JSON.parse(opened[0]!.body.slice(1)) as { sid: string }).sid;
    const stale = await rawGet(t, `${handshakePath}&sid=${sid}`, '127.0.0.2');
    assert.equal(stale.status, 400, `the timed-out session is gone: ${stale.body}`);
    assert.equal((await rawGet(t, handshakePath, '127.0.0.2')).status, 200);
  });

  test('a Socket.IO handshake over WebSocket past the budget is refused before the upgrade', async () => {
    const holders = await Promise.all(Array.from({ length: PER_ADDRESS }, () => idleSocket(t, '127.0.0.3')));
    const client = io(t.url, {
      transports: ['websocket'],
      reconnection: false,
      auth: { token: t.adminToken },
      localAddress: '127.0.0.3',
    } as Parameters<typeof io>[1] & { localAddress: string });
    const failure = await new Promise<Error>((resolve) => client.once('connect_error', resolve));
    assert.match(failure.message, /websocket error/);
    client.close();
    for (const holder of holders) holder.socket.destroy();
    await waitFor(() => pendingOf(t) === 0, 'no pending connections');
  });

  test('idle and half-sent TCP connections are capped per address and closed after the auth timeout', async () => {
    const sockets = await Promise.all(Array.from({ length: PER_ADDRESS + 5 }, () => idleSocket(t, '127.0.0.4')));
    // One of them starts a request it never finishes (a slowloris).
    sockets[0]!.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await waitFor(() => sockets.filter((s) => s.received() !== '').length === 5, 'five refusals');
    const refused = sockets.filter((s) => s.received() !== '');
    for (const s of refused) {
      assert.match(s.received(), /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      assert.match(s.received(), /Retry-After: 2\r\n/);
      assert.equal(JSON.parse(s.received().split('\r\n\r\n')[1]!).error, 'too_many_pending_connections');
      await s.closed;
    }
    // The ones let in are cut once the auth timeout has passed, the half-sent one too.
    await Promise.all(sockets.map((s) => s.closed));
    assert.ok(sockets.filter((s) => s.received() === '').length === PER_ADDRESS);
    await waitFor(() => pendingOf(t) === 0, 'no pending connections');
  });

  test('past the overall budget a connection from any address gets 503 server_busy', async () => {
    const addresses = ['127.0.0.5', '127.0.0.6', '127.0.0.7'];
    const held = await Promise.all(addresses.flatMap((address) => Array.from({ length: PER_ADDRESS - 3 }, () => idleSocket(t, address))));
    await waitFor(() => pendingOf(t) === OVERALL, 'every place taken');
    const answer = await rawGet(t, '/healthz', '127.0.0.8');
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '2');
    assert.equal(JSON.parse(answer.body).error, 'server_busy');
    for (const s of held) s.socket.destroy();
    await waitFor(() => pendingOf(t) === 0, 'no pending connections');
    assert.equal((await rawGet(t, '/healthz', '127.0.0.8')).status, 200);
  });

  // SSE last: undici opens spare sockets after its aborted streams a moment
  // later, and those count (unused) until the auth timeout cuts them.
  for (const transport of [...TRANSPORT_KINDS].reverse()) {
    test(`an authenticated ${transport} subscriber no longer counts as pending`, async () => {
      const subscribers = [];
      // More than the per-address budget, one after the other: each frees its place once it authenticates.
      for (let i = 0; i < PER_ADDRESS + 5; i++) {
        const subscriber = await connectSubscriber(transport, t.url, { token: t.adminToken });
        assert.equal(
          subscriber.status,
          'open',
          `refused: ${subscriber.refusal} ${JSON.stringify(subscriber.closeInfo)} ${JSON.stringify(t.server.stats().pending)}`,
        );
        subscribers.push(subscriber);
      }
      assert.ok(pendingOf(t) < PER_ADDRESS);
      await Promise.all(subscribers.map((subscriber) => subscriber.close()));
      await waitFor(() => t.server.hub.stats().connections === 0, 'every subscriber gone');
    });
  }
});

test('a client is its IPv4 address, or its IPv6 /64', () => {
  assert.equal(clientAddress('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(clientAddress('10.1.2.3'), '10.1.2.3');
  assert.equal(clientAddress('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
  assert.equal(clientAddress('2001:DB8:0000:0001:bbbb:cccc:dddd:eeee'), '2001:db8:0:1::/64');
  assert.equal(clientAddress('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientAddress('::1'), '0:0:0:0::/64');
  assert.equal(clientAddress('fe80::1%eth0'), 'fe80:0:0:0::/64');
});
