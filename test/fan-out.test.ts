// The rolling fan-out: more connections than one slice of the walk (64), a
// burst of publishes landing while a lap is under way, and clients joining
// with `since` in the middle of it. Every client must end with every code
// exactly once, in id order — the live stream picking up exactly where its
// replay stopped, wherever the walk was when it attached.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectSubscriber, type Subscriber, type TransportKind } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { uniqueCode, waitForConnections } from './support/sse-stream-helpers.js';

const PER_TRANSPORT = 70; // > one slice on each transport: 210 in all, four slices a lap
const BURST = 40;
const LATE = 12;

describe('rolling fan-out over several slices', () => {
  let t: TestServer;
  const opened: Subscriber[] = [];

  before(async () => {
    t = await startTestServer({ CODECAST_HISTORY: '500', CODECAST_MAX_CONNECTIONS_PER_USER: '1000' });
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await waitForConnections(t, 0);
    await t.stop();
  });

  async function connect(kind: TransportKind, token: string, since?: number): Promise<Subscriber> {
    const sub = await connectSubscriber(kind, t.url, { token, ...(since === undefined ? {} : { since }) });
    opened.push(sub);
    assert.equal(sub.status, 'open', `${kind} refused: ${sub.refusal}`);
    return sub;
  }

  test(`${PER_TRANSPORT * 3} clients and ${LATE} late joiners each get all ${BURST} codes of a burst once, in order`, async () => {
    const { token } = await t.createUser('many-tabs');
    const kinds: TransportKind[] = ['sse', 'ws', 'socketio'];
    const early: Subscriber[] = [];
    for (const kind of kinds) {
      early.push(...(await Promise.all(Array.from({ length: PER_TRANSPORT }, () => connect(kind, token)))));
    }
    const before = (await t.api('GET', '/api/v1/codes?limit=1000')).body.codes.at(-1)?.id ?? 0;

    // Publishes go out concurrently; clients join (replaying from `before`)
    // while the burst is being fanned out.
    const publishes: Promise<{ status: number; body: any }>[] = [];
    const late: Promise<Subscriber>[] = [];
    for (let i = 0; i < BURST; i++) {
      publishes.push(t.api('POST', '/api/v1/codes', { body: { code: uniqueCode(`ROLL${i}`) } }));
      if (i % 3 === 1 && late.length < LATE) late.push(connect(kinds[late.length % 3] as TransportKind, token, before));
      if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
    }
    const answers = await Promise.all(publishes);
    for (const answer of answers) assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const ids = answers.map((a) => a.body.code.id as number).sort((a, b) => a - b);
    const joiners = await Promise.all(late);
    assert.equal(joiners.length, LATE);

    for (const sub of [...early, ...joiners]) await sub.waitForCodes(BURST, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200)); // room for a stray repeat to show
    for (const [i, sub] of early.entries())
      assert.deepEqual(sub.codeIds, ids, `early ${sub.transport} client ${i}: every code once, in order`);
    for (const [i, sub] of joiners.entries()) {
      assert.deepEqual(sub.codeIds, ids, `late ${sub.transport} client ${i}: replay then live, no gap, no repeat`);
    }

    // Live deliveries are counted once per connection per code, whatever slice wrote them.
    const stats = (await t.api('GET', '/api/v1/stats')).body;
    const live = stats.deliveries.live.sse + stats.deliveries.live.ws + stats.deliveries.live.socketio;
    const replayed = stats.deliveries.replayed;
    assert.equal(live + replayed, (PER_TRANSPORT * 3 + LATE) * BURST, 'live plus replayed is one delivery per client per code');
  });
});

// Socket.IO deliveries take one of two paths: straight to the TCP socket
// under an idle WebSocket transport, or through engine.io (HTTP long-polling,
// a transport mid-upgrade, packets already queued). Clients pinned to each,
// and clients upgrading from polling while the burst is on, must all see the
// same codes once, in order, on both namespaces.
describe('Socket.IO over polling, websocket and an upgrade, during a burst', () => {
  let t: TestServer;
  const opened: Subscriber[] = [];

  before(async () => {
    t = await startTestServer({ CODECAST_HISTORY: '500', CODECAST_MAX_CONNECTIONS_PER_USER: '100' });
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await waitForConnections(t, 0);
    await t.stop();
  });

  test('every engine.io path gets every code once, in order, replayed or live', async () => {
    const { token } = await t.createUser('engine-paths');
    const paths: (readonly ('polling' | 'websocket')[])[] = [['polling'], ['websocket'], ['polling', 'websocket']];
    const connect = async (transports: readonly ('polling' | 'websocket')[], namespace: '/' | '/events', since?: number) => {
      const sub = await connectSubscriber('socketio', t.url, {
        token,
        namespace,
        engineTransports: transports,
        ...(since === undefined ? {} : { since }),
      });
      opened.push(sub);
      assert.equal(sub.status, 'open', `socketio ${transports.join('+')} ${namespace} refused: ${sub.refusal}`);
      return sub;
    };
    const early = await Promise.all(paths.flatMap((p) => [connect(p, '/'), connect(p, '/events')]));
    const before = (await t.api('GET', '/api/v1/codes?limit=1000')).body.codes.at(-1)?.id ?? 0;

    const publishes: Promise<{ status: number; body: any }>[] = [];
    const late: Promise<Subscriber>[] = [];
    for (let i = 0; i < 30; i++) {
      publishes.push(t.api('POST', '/api/v1/codes', { body: { code: uniqueCode(`PATH${i}`) } }));
      if (i % 10 === 5) for (const p of paths) late.push(connect(p, i % 20 === 5 ? '/' : '/events', before));
      if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const answers = await Promise.all(publishes);
    for (const answer of answers) assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const ids = answers.map((a) => a.body.code.id as number).sort((a, b) => a - b);
    const joiners = await Promise.all(late);

    const all = [...early, ...joiners];
    for (const sub of all) await sub.waitForCodes(ids.length, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const [i, sub] of all.entries()) assert.deepEqual(sub.codeIds, ids, `Socket.IO client ${i}: every code once, in order`);
  });
});
