// All three transports at once on one server (issue 3): SSE, WebSocket and
// Socket.IO ('/' and '/events') clients of several users take a burst of
// concurrently published codes; every client gets every code exactly once,
// in id order, and the figures agree. Then a client resumes on another
// transport than the one it left.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { connectSubscriber, type ConnectOptions, type Subscriber, type TransportKind } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { uniqueCode, waitForConnections } from './support/sse-stream-helpers.js';

const BURST = 50;

describe('mixed transports on one server', () => {
  let t: TestServer;
  const opened: Subscriber[] = [];
  async function connect(kind: TransportKind, options: ConnectOptions): Promise<Subscriber> {
    const sub = await connectSubscriber(kind, t.url, options);
    opened.push(sub);
    assert.equal(sub.status, 'open', `${kind} ${options.namespace ?? ''} refused: ${sub.refusal}`);
    return sub;
  }

  before(async () => {
    t = await startTestServer({ CODECAST_HISTORY: '200', CODECAST_HEARTBEAT_SECONDS: '1' });
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await waitForConnections(t, 0);
  });
  after(async () => {
    await t.stop();
  });

  test(`5 SSE + 5 ws + 5 Socket.IO clients each get a burst of ${BURST} concurrent publishes exactly once, in id order`, async () => {
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await t.createUser(`mixed-${i}`));
    // Every user has one connection on each transport; Socket.IO alternates namespaces.
    const subs = await Promise.all(
      users.flatMap((user, i) => [
        connect('sse', { token: user.token }),
        connect('ws', { token: user.token }),
        connect('socketio', { token: user.token, namespace: i % 2 === 0 ? '/' : '/events' }),
      ]),
    );
    const stats = (await t.api('GET', '/api/v1/stats')).body;
    assert.deepEqual(stats.connections.byTransport, { sse: 5, ws: 5, socketio: 5 });
    assert.equal(stats.connections.total, 15);
    assert.equal(stats.usersOnline, 5);

    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) => t.api('POST', '/api/v1/codes', { body: { code: uniqueCode(`BURST${i}`), value: i } })),
    );
    for (const answer of answers) assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const ids = answers.map((a) => a.body.code.id as number).sort((a, b) => a - b);
    assert.equal(new Set(ids).size, BURST, 'every publish got its own id');
    const byId = new Map(answers.map((a) => [a.body.code.id as number, a.body.code]));

    // Every publish reached every connection, and the audience says so.
    let audience = 0;
    for (const answer of answers) {
      assert.deepEqual(answer.body.audience, { connections: 15, byTransport: { sse: 5, ws: 5, socketio: 5 } });
      audience += answer.body.audience.connections;
    }
    assert.equal(audience, 15 * BURST);

    for (const sub of subs) await sub.waitForCodes(BURST, 10_000);
    // A moment for any stray duplicate to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const sub of subs) {
      const label = `${sub.transport} client`;
      assert.deepEqual(sub.codeIds, ids, `${label}: every code exactly once, in increasing id order`);
      for (const code of sub.codes) assert.deepEqual(code, byId.get(code.id), `${label}: the published object`);
      assert.deepEqual(
        sub.events.map((e) => e.type),
        ['hello', ...ids.map(() => 'code')],
        `${label}: nothing but hello and the codes`,
      );
    }

    const after = (await t.api('GET', '/api/v1/stats')).body;
    assert.deepEqual(
      {
        sse: after.deliveries.live.sse - stats.deliveries.live.sse,
        ws: after.deliveries.live.ws - stats.deliveries.live.ws,
        socketio: after.deliveries.live.socketio - stats.deliveries.live.socketio,
      },
      { sse: 5 * BURST, ws: 5 * BURST, socketio: 5 * BURST },
    );
    const figures = (await t.api('GET', `/api/v1/codes/${ids[0]}`)).body;
    assert.deepEqual(figures.delivery.byTransport, { sse: 5, ws: 5, socketio: 5 });
    assert.equal(figures.delivery.total, 15);
  });

  test('a client that leaves one transport resumes on another with since, without gaps or repeats', async () => {
    const user = await t.createUser('hopper');
    const route: [TransportKind, ConnectOptions['namespace']][] = [
      ['sse', undefined],
      ['ws', undefined],
      ['socketio', '/events'],
      ['socketio', '/'],
      ['sse', undefined],
    ];
    const expected: number[] = [];
    const received: number[] = [];
    let since: number | undefined;
    for (const [kind, namespace] of route) {
      const options: ConnectOptions = { token: user.token, ...(namespace ? { namespace } : {}), ...(since === undefined ? {} : { since }) };
      const sub = await connect(kind, options);
      // Published while connected (live), then the client leaves and more are published (replayed next time).
      const live = (await t.publish(uniqueCode('HOP'))).id;
      expected.push(live);
      const missedBefore = received.length === 0 ? 0 : expected.length - received.length - 1;
      await sub.waitForCodes(missedBefore + 1);
      received.push(...sub.codeIds);
      since = sub.lastId;
      await sub.close();
      await waitForConnections(t, 0);
      for (let i = 0; i < 3; i++) expected.push((await t.publish(uniqueCode('HOP'))).id);
    }
    // The last three were published after the final client left: pick them up once more.
    const last = await connect('ws', { token: user.token, since: since as number });
    await last.waitForCodes(3);
    received.push(...last.codeIds);
    assert.deepEqual(received, expected, 'one unbroken, ordered sequence across five transports hops');
  });
});
