// The wire contract of docs/PROTOCOL.md, run unchanged over SSE (fetch),
// WebSocket (ws) and Socket.IO (socket.io-client) (issue 3, "How it is
// shown"), on each store, SQLite and PostgreSQL (issue 10): delivery,
// recovery, reset, revoke, caps (also across transports), access withdrawn,
// ack figures, bad tokens and graceful stop.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { connectSubscriber, TRANSPORT_KINDS, type ConnectOptions, type Subscriber, type TransportKind } from './support/clients.js';
import { STORE_KINDS, startTestServer, type TestServer } from './support/server.js';
import { uniqueCode, waitForConnections } from './support/sse-stream-helpers.js';

/** How each refusal shows besides its error code: SSE HTTP status, ws close code. */
const REFUSAL_CODES: Record<string, Partial<Record<TransportKind, number>>> = {
  unauthorized: { sse: 401, ws: 4401 },
  user_disabled: { sse: 403, ws: 4403 },
  too_many_connections_for_user: { sse: 429, ws: 4429 },
  server_full: { sse: 503, ws: 1013 },
};

function assertRefused(sub: Subscriber, error: string): void {
  assert.equal(sub.status, 'refused', `${sub.transport}: expected a refusal (${error}), got ${sub.status}`);
  assert.equal(sub.refusal, error);
  const code = REFUSAL_CODES[error]?.[sub.transport];
  if (code !== undefined) assert.equal(sub.closeInfo?.code, code);
  assert.deepEqual(sub.codes, []);
  assert.equal(sub.of('hello').length, 0, 'a refused connection gets no hello');
}

/** The way access withdrawn mid-connection shows on each transport. */
function assertWithdrawn(sub: Subscriber, reason: 'user_disabled' | 'token_revoked'): void {
  assert.equal(sub.status, 'closed');
  if (sub.transport === 'ws') {
    assert.equal(sub.closeInfo?.code, reason === 'user_disabled' ? 4403 : 4401);
    assert.equal(sub.closeInfo?.reason, reason);
  }
  if (sub.transport === 'socketio') {
    assert.deepEqual(
      sub.of('closing').map((e) => e.data),
      [{ reason }],
    );
    // A server-side disconnect: socket.io-client does not come back by itself.
    assert.equal(sub.closeInfo?.reason, 'io server disconnect');
  }
}

const CODE_KEYS = ['code', 'expiresAt', 'id', 'message', 'publishedAt', 'source', 'type', 'value'];

for (const store of STORE_KINDS) {
  describe(`contract on ${store}`, () => {
    for (const transport of TRANSPORT_KINDS) {
      describe(`over ${transport}`, () => {
        const others = TRANSPORT_KINDS.filter((k) => k !== transport);
        // Main server: short history, per-user cap 2, 1 s heartbeats among the events.
        let t: TestServer;
        // Second server: global cap 2; stopped gracefully by the last test.
        let capped: TestServer;
        let users = 0;
        const opened: Subscriber[] = [];
        let closingAtStop: unknown[] | undefined;

        async function connect(server: TestServer, options: ConnectOptions, kind: TransportKind = transport): Promise<Subscriber> {
          const sub = await connectSubscriber(kind, server.url, options);
          opened.push(sub);
          return sub;
        }
        async function newUser(server = t): Promise<{ token: string; tokenId: number; name: string }> {
          const name = `${transport}-user-${++users}`;
          return { ...(await server.createUser(name)), name };
        }
        async function publish(server: TestServer, extra: Record<string, unknown> = {}): Promise<any> {
          const res = await server.api('POST', '/api/v1/codes', { body: { code: uniqueCode(transport), ...extra } });
          assert.equal(res.status, 201, JSON.stringify(res.body));
          return res.body;
        }

        before(async () => {
          // One after the other: if one cannot start, the one that did is still stopped in after().
          t = await startTestServer(
            { CODECAST_HISTORY: '5', CODECAST_MAX_CONNECTIONS_PER_USER: '2', CODECAST_HEARTBEAT_SECONDS: '1' },
            { store },
          );
          capped = await startTestServer({ CODECAST_MAX_CONNECTIONS: '2' }, { store });
        });
        afterEach(async () => {
          await Promise.all(opened.splice(0).map((s) => s.close()));
          await waitForConnections(t, 0);
          await waitForConnections(capped, 0);
        });
        after(async () => {
          await Promise.all([t?.stop(), capped?.stop()]);
        });

        test('hello first, then every live code as the full object, in publish order', async () => {
          const user = await newUser();
          const sub = await connect(t, { token: user.token });
          const hello = sub.events[0];
          assert.equal(hello?.type, 'hello');
          assert.equal(typeof hello.data.connectionId, 'string');
          assert.equal(hello.data.lastId, t.server.hub.lastId);
          assert.equal(hello.data.heartbeatSeconds, 1);

          const published = [
            (await publish(t, { value: 3, type: 'drop', message: 'Enjoy', ttlSeconds: 3600, source: 'tests' })).code,
            (await publish(t)).code,
            (await publish(t, { message: 'third' })).code,
          ];
          await sub.waitForCodes(3);
          assert.deepEqual(sub.codes, published, 'the same objects the publish answered, in order');
          assert.deepEqual(Object.keys(sub.codes[0]).sort(), CODE_KEYS);
          assert.equal(sub.codes[0].value, 3);
          assert.equal(sub.codes[0].type, 'drop');
          assert.equal(typeof sub.codes[0].expiresAt, 'string');
          assert.equal(sub.codes[1].message, null);
          assert.ok(published[0].id < published[1].id && published[1].id < published[2].id);
          assert.deepEqual(
            sub.events.map((e) => e.type),
            ['hello', 'code', 'code', 'code'],
          );
        });

        test('after a gap, reconnecting with since gets exactly the missed codes in order, then live ones', async () => {
          const user = await newUser();
          const first = await connect(t, { token: user.token });
          const seen = (await publish(t)).code.id;
          await first.waitForCodes(1);
          await first.close();
          await waitForConnections(t, 0);

          const missed = [(await publish(t)).code.id, (await publish(t)).code.id, (await publish(t)).code.id];
          const again = await connect(t, { token: user.token, since: first.lastId as number });
          assert.equal(first.lastId, seen);
          await again.waitForCodes(3);
          assert.deepEqual(again.codeIds, missed);
          const live = (await publish(t)).code.id;
          await again.waitForCodes(4);
          assert.deepEqual(again.codeIds, [...missed, live], 'no repeat, no gap, then live');
          assert.deepEqual(
            again.events.map((e) => e.type),
            ['hello', 'code', 'code', 'code', 'code'],
            'no reset inside history',
          );
        });

        test('since beyond history (CODECAST_HISTORY=5): reset first, then the 5 held codes', async () => {
          const user = await newUser();
          const ids: number[] = [];
          for (let i = 0; i < 7; i++) ids.push((await publish(t)).code.id);
          const sub = await connect(t, { token: user.token, since: ids[0] as number });
          await sub.waitForCodes(5);
          assert.deepEqual(
            sub.events.map((e) => e.type),
            ['hello', 'reset', 'code', 'code', 'code', 'code', 'code'],
          );
          assert.deepEqual(sub.of('reset')[0]?.data, { oldestId: ids[2], lastId: ids[6] });
          assert.deepEqual(sub.codeIds, ids.slice(2));

          // Inside history: no reset.
          const inside = await connect(t, { token: user.token, since: ids[4] as number });
          await inside.waitForCodes(2);
          assert.deepEqual(inside.codeIds, ids.slice(5));
          assert.equal(inside.of('reset').length, 0);
        });

        test('a revoke reaches a live client at once, and the revoked code is never replayed', async () => {
          const user = await newUser();
          const sub = await connect(t, { token: user.token });
          const a = (await publish(t)).code.id;
          const b = (await publish(t)).code.id;
          await sub.waitForCodes(2);
          const res = await t.api('DELETE', `/api/v1/codes/${a}`);
          assert.equal(res.status, 200);
          await sub.waitForEvent('revoke');
          assert.deepEqual(
            sub.of('revoke').map((e) => e.data),
            [{ id: a }],
          );
          assert.deepEqual(
            sub.events.map((e) => e.type),
            ['hello', 'code', 'code', 'revoke'],
          );

          const replay = await connect(t, { token: user.token, since: a - 1 });
          const c = (await publish(t)).code.id;
          await replay.waitForCodes(2);
          assert.deepEqual(replay.codeIds, [b, c], 'the revoked code is skipped in replay');
        });

        test('per-user cap: a third connection of the same user is refused too_many_connections_for_user', async () => {
          const user = await newUser();
          await connect(t, { token: user.token });
          await connect(t, { token: user.token });
          const third = await connect(t, { token: user.token });
          assertRefused(third, 'too_many_connections_for_user');
          // Another user is not affected.
          const other = await newUser();
          assert.equal((await connect(t, { token: other.token })).status, 'open');
        });

        test(`per-user cap counts across transports: ${others.join(' + ')} open, ${transport} refused`, async () => {
          const user = await newUser();
          for (const kind of others) assert.equal((await connect(t, { token: user.token }, kind)).status, 'open');
          const expected = { sse: 1, ws: 1, socketio: 1, [transport]: 0 };
          assert.deepEqual((t.server.stats() as any).connections.byTransport, expected);
          const refused = await connect(t, { token: user.token });
          assertRefused(refused, 'too_many_connections_for_user');
        });

        test('missing and unknown tokens are refused unauthorized', async () => {
          const missing = await connect(t, {});
          assertRefused(missing, 'unauthorized');
          const unknown = await connect(t, { token: 'cc_this-token-does-not-exist-0123456789abcdefghijkl' });
          assertRefused(unknown, 'unauthorized');
          const garbage = await connect(t, { token: 'nonsense' });
          assertRefused(garbage, 'unauthorized');
        });

        test('disabling a user closes its connection at once; a new connect is refused user_disabled', async () => {
          const user = await newUser();
          const sub = await connect(t, { token: user.token });
          const bystander = await connect(t, { token: (await newUser()).token });
          const res = await t.api('PATCH', `/api/v1/users/${user.name}`, { body: { disabled: true } });
          assert.equal(res.status, 200);
          await sub.waitForEnd();
          assertWithdrawn(sub, 'user_disabled');
          assert.equal(bystander.status, 'open');

          const again = await connect(t, { token: user.token });
          assertRefused(again, 'user_disabled');
          // The bystander still gets codes; the disabled user's closed client does not.
          const id = (await publish(t)).code.id;
          await bystander.waitForCodes(1);
          assert.deepEqual(bystander.codeIds, [id]);
          assert.deepEqual(sub.codes, []);
        });

        test('revoking a token closes its connection only; that token is then refused', async () => {
          const user = await newUser();
          const second = await t.api('POST', `/api/v1/users/${user.name}/tokens`, { body: { label: 'second' } });
          assert.equal(second.status, 201);
          const byFirst = await connect(t, { token: user.token });
          const bySecond = await connect(t, { token: second.body.token.token });
          const res = await t.api('DELETE', `/api/v1/tokens/${user.tokenId}`);
          assert.equal(res.status, 200);
          await byFirst.waitForEnd();
          assertWithdrawn(byFirst, 'token_revoked');
          assert.equal(bySecond.status, 'open');
          const id = (await publish(t)).code.id;
          await bySecond.waitForCodes(1);
          assert.deepEqual(bySecond.codeIds, [id]);

          const again = await connect(t, { token: user.token });
          assertRefused(again, 'unauthorized');
        });

        test(`acks through ${transport} feed the code's figures; deliveries count under ${transport}`, async () => {
          const [u1, u2] = [await newUser(), await newUser()];
          const subs = [await connect(t, { token: u1.token }), await connect(t, { token: u2.token })];
          const published = await publish(t);
          const id = published.code.id as number;
          assert.equal(published.audience.connections, 2);
          assert.equal(published.audience.byTransport[transport], 2);
          for (const sub of subs) await sub.waitForCodes(1);

          for (const sub of subs) {
            const answer = await sub.ack(id);
            if (transport === 'ws') assert.equal(answer, undefined, 'a ws ack has no answer frame');
            else {
              assert.equal(answer.id, id);
              assert.equal(answer.first, true);
              assert.equal(typeof answer.latencyMs, 'number');
            }
          }
          let figures: any;
          const deadline = Date.now() + 5000;
          for (;;) {
            figures = (await t.api('GET', `/api/v1/codes/${id}`)).body;
            if (figures.acks.users === 2 || Date.now() > deadline) break;
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.equal(figures.acks.users, 2);
          assert.equal(typeof figures.acks.medianMs, 'number');
          assert.equal(typeof figures.acks.p99Ms, 'number');
          assert.ok(figures.acks.medianMs >= 0 && figures.acks.p99Ms >= figures.acks.medianMs);
          assert.equal(figures.delivery.byTransport[transport], 2);
          for (const kind of others) assert.equal(figures.delivery.byTransport[kind], 0);
          assert.equal(figures.delivery.total, 2);

          // A second ack by the same user counts once.
          const repeat = await subs[0]?.ack(id);
          if (transport !== 'ws') assert.equal(repeat.first, false);
          await new Promise((r) => setTimeout(r, 50));
          assert.equal((await t.api('GET', `/api/v1/codes/${id}`)).body.acks.users, 2);
        });

        test('an ack of an unknown code answers code_not_found', async () => {
          const sub = await connect(t, { token: (await newUser()).token });
          const answer = await sub.ack(999_999);
          if (transport === 'ws') {
            await sub.waitForEvent('error');
            assert.equal(sub.of('error')[0]?.data.error, 'code_not_found');
            assert.equal(sub.status, 'open', 'an error frame does not close the connection');
          } else {
            assert.equal(answer.error, 'code_not_found');
          }
        });

        test('global cap (CODECAST_MAX_CONNECTIONS=2), filled over other transports: refused server_full', async () => {
          const [a, b, c] = [await newUser(capped), await newUser(capped), await newUser(capped)];
          assert.equal((await connect(capped, { token: a.token }, others[0])).status, 'open');
          assert.equal((await connect(capped, { token: b.token }, others[1])).status, 'open');
          assertRefused(await connect(capped, { token: c.token }), 'server_full');
          // Same transport filling it: refused as well.
          await Promise.all(opened.splice(0).map((s) => s.close()));
          await waitForConnections(capped, 0);
          await connect(capped, { token: a.token });
          await connect(capped, { token: b.token });
          assertRefused(await connect(capped, { token: c.token }), 'server_full');
        });

        test('a graceful stop sends shutdown, then ends the connection', async () => {
          const user = await newUser(capped);
          const sub = await connect(capped, { token: user.token });
          const id = (await publish(capped)).code.id;
          await sub.waitForCodes(1);
          await capped.stop();
          await sub.waitForEnd();
          assert.equal(sub.status, 'closed');
          const shutdown = sub.of('shutdown');
          assert.equal(shutdown.length, 1);
          assert.equal(typeof shutdown[0]?.data.reconnectAfterMs, 'number');
          assert.deepEqual(sub.codeIds, [id]);
          const tail = sub.events.map((e) => e.type).slice(-2);
          if (transport === 'ws') assert.equal(sub.closeInfo?.code, 1001);
          if (transport === 'socketio') {
            assert.equal(sub.closeInfo?.reason, 'transport close', 'the engine is closed: a reconnecting client would come back');
            closingAtStop = sub.of('closing').map((e) => e.data);
          } else {
            assert.equal(tail[1], 'shutdown', 'shutdown is the last event');
          }
        });

        if (transport === 'socketio') {
          test('a graceful stop also sends closing {reason: "shutdown"} after shutdown', () => {
            assert.deepEqual(closingAtStop, [{ reason: 'shutdown' }]);
          });
        }
      });
    }
  });
}
