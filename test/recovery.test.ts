// Recovery includes revocations (issue 9): a client that resumes with its
// last id learns of every revoke it missed for codes still in history, on
// every transport, in order with the codes, and ends holding what a client
// that never left holds. Run unchanged over SSE, WebSocket and Socket.IO.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Code, Principal } from '../src/domain/index.js';
import { HistoryRing, Hub, type CloseReason, type Connection } from '../src/hub/index.js';
import { SseEncoder } from '../src/transports/sse/sse-encoder.js';
import { connectSubscriber, TRANSPORT_KINDS, type Subscriber } from './support/clients.js';
import { STORE_KINDS, createStoreDatabase, startTestServer, type TestServer } from './support/server.js';
import { uniqueCode, waitForConnections } from './support/sse-stream-helpers.js';

/** The codes a client holds after its events: codes added, revoked ones dropped, in arrival order. */
function held(...subs: Subscriber[]): number[] {
  const model = new Map<number, true>();
  for (const sub of subs) {
    for (const event of sub.events) {
      if (event.type === 'code') model.set(event.data.id, true);
      if (event.type === 'revoke') model.delete(event.data.id);
    }
  }
  return [...model.keys()];
}

/** Events after hello, as `code 5` / `revoke 2`, heartbeats left out. */
function trail(sub: Subscriber): string[] {
  return sub.events
    .filter((e) => e.type !== 'hello')
    .map((e) => `${e.type} ${e.type === 'code' || e.type === 'revoke' ? e.data.id : ''}`.trim());
}

for (const transport of TRANSPORT_KINDS) {
  describe(`recovery includes revocations over ${transport}`, () => {
    let t: TestServer;
    let token: string;
    const opened: Subscriber[] = [];

    before(async () => {
      t = await startTestServer({ CODECAST_MAX_CONNECTIONS_PER_USER: '50' });
      token = (await t.createUser(`recovery-${transport}`)).token;
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      await waitForConnections(t, 0);
    });
    after(async () => {
      await t.stop();
    });

    async function connect(since?: number): Promise<Subscriber> {
      const sub = await connectSubscriber(transport, t.url, { token, ...(since === undefined ? {} : { since }) });
      opened.push(sub);
      assert.equal(sub.status, 'open', `${transport} refused: ${sub.refusal}`);
      return sub;
    }
    const publish = async (): Promise<number> => (await t.publish(uniqueCode(`REC-${transport}`))).id;
    const revoke = async (id: number): Promise<void> => {
      const res = await t.api('DELETE', `/api/v1/codes/${id}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    /** Publishes a code after the resume and waits for it: everything replay sends comes before it. */
    async function settle(subs: Subscriber[]): Promise<number> {
      const sentinel = await publish();
      await Promise.all(subs.map((s) => s.waitForCodes(s.codes.filter((c) => c.id !== sentinel).length + 1)));
      return sentinel;
    }

    test('revokes missed while away come on resume, before the codes missed; revoked codes are never sent', async () => {
      // A client that stays throughout: what everyone should end up holding.
      const stayer = await connect();
      const away = await connect();
      const [c1, c2, c3] = [await publish(), await publish(), await publish()];
      await away.waitForCodes(3);
      await away.close();
      await waitForConnections(t, 1);

      await revoke(c2);
      const c4 = await publish();
      // A client that got code 4 and left before it was revoked.
      const sawFour = await connect(c3);
      await sawFour.waitForCodes(1);
      await sawFour.close();
      await waitForConnections(t, 1);
      await revoke(c4);
      const c5 = await publish();
      await stayer.waitForCodes(5);
      await stayer.waitForEvent('revoke', 2);

      const from3 = await connect(c3);
      const from1 = await connect(c1);
      const from4 = await connect(c4);
      const from5 = await connect(c5);
      const sentinel = await settle([stayer, from3, from1, from4, from5]);

      assert.deepEqual(trail(from3), [`revoke ${c2}`, `code ${c5}`, `code ${sentinel}`], 'revoke 2, then code 5, and nothing of 4');
      assert.deepEqual(trail(from1), [`code ${c3}`, `code ${c5}`, `code ${sentinel}`], 'codes 3 and 5; 2 and 4 never held, never revoked');
      // Code 4 came after 2 was revoked: that revoke reached the client before it.
      assert.deepEqual(trail(from4), [`revoke ${c4}`, `code ${c5}`, `code ${sentinel}`]);
      assert.deepEqual(trail(from5), [`code ${sentinel}`], 'both revokes came before code 5: nothing to repeat');

      const truth = held(stayer);
      assert.deepEqual(truth, [c1, c3, c5, sentinel]);
      assert.deepEqual(held(away, from3), truth, 'resumed from 3: the same codes as a client that never left');
      assert.deepEqual(held(away, sawFour, from4), truth, 'resumed from 4: likewise');
    });

    test('a revoke while the client is connected arrives live, once, after its code', async () => {
      const sub = await connect();
      const a = await publish();
      const b = await publish();
      await sub.waitForCodes(2);
      await revoke(a);
      await sub.waitForEvent('revoke');
      const sentinel = await settle([sub]);
      assert.deepEqual(trail(sub), [`code ${a}`, `code ${b}`, `revoke ${a}`, `code ${sentinel}`]);
    });

    test('a resume from after the revoke is not told it again', async () => {
      const sub = await connect();
      const a = await publish();
      await sub.waitForCodes(1);
      await revoke(a);
      await sub.waitForEvent('revoke');
      const b = await publish();
      await sub.waitForCodes(2);
      await sub.close();
      const again = await connect(b);
      const sentinel = await settle([again]);
      assert.deepEqual(trail(again), [`code ${sentinel}`]);
    });
  });
}

// What a restart replays is read back from the store: on each (issue 10).
for (const store of STORE_KINDS) {
  describe(`revokes across a restart on ${store}`, () => {
    test('after a restart every revoked code up to the last id is told again: when it was revoked is not kept', async () => {
      const database = await createStoreDatabase(store, 'recovery');
      let server: TestServer | undefined;
      try {
        server = await startTestServer({}, { database });
        const token = (await server.createUser('restart')).token;
        const a = (await server.publish(uniqueCode('RST'))).id;
        const b = (await server.publish(uniqueCode('RST'))).id;
        assert.equal((await server.api('DELETE', `/api/v1/codes/${a}`)).status, 200);
        await server.stop();
        server = await startTestServer({}, { database });
        const url = server.url;
        const subs = await Promise.all(TRANSPORT_KINDS.map((kind) => connectSubscriber(kind, url, { token, since: b })));
        const sentinel = (await server.publish(uniqueCode('RST'))).id;
        await Promise.all(subs.map((s) => s.waitForCodes(1)));
        for (const sub of subs) assert.deepEqual(trail(sub), [`revoke ${a}`, `code ${sentinel}`], sub.transport);
        await Promise.all(subs.map((s) => s.close()));
        await waitForConnections(server, 0);
      } finally {
        await server?.stop();
        await database.drop();
      }
    });
  });
}

/** A connection that keeps what the hub writes to it, as SSE events. */
class RecordingConnection implements Connection<Buffer> {
  readonly transport = 'sse' as const;
  readonly openedAt = Date.now();
  readonly backlog = 0;
  readonly bufferedBytes = 0;
  #text = '';

  constructor(
    readonly id: string,
    readonly principal: Principal,
  ) {}

  send(frame: Buffer): void {
    this.#text += frame.toString();
  }
  startLive(): void {}
  lastSignOfLife(now: number): number {
    return now;
  }
  close(_reason: CloseReason): void {}

  /** `code 5` / `revoke 2` for each event after hello, in the order written. */
  get trail(): string[] {
    return this.#text
      .split('\n\n')
      .filter((frame) => frame !== '')
      .map((frame) => {
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? 'null');
        return `${event} ${data.id ?? ''}`.trim();
      })
      .filter((line) => !line.startsWith('hello'));
  }
}

describe('hub: revokes on either side of attach', () => {
  const principal: Principal = { user: { id: 1, username: 'u', role: 'user', disabled: false, createdAt: '' }, tokenId: 1 };
  const code = (id: number): Code => ({
    id,
    code: `C${id}`,
    value: null,
    type: null,
    message: null,
    publishedAt: new Date().toISOString(),
    expiresAt: null,
    source: 'api',
  });

  test('a revoke appended but not yet fanned out when a client attaches reaches it once, by replay, never before its code', async () => {
    const hub = new Hub(
      { maxConnections: 10, maxConnectionsPerUser: 10, connectionQueue: 100, heartbeatMs: 60_000, staleMs: 120_000 },
      new HistoryRing(100),
    );
    hub.useEncoder(new SseEncoder());
    const sent = (id: number) => new Promise<void>((resolve) => hub.broadcastCode(code(id), () => resolve()));
    const stayer = new RecordingConnection('stayer', principal);
    hub.attach(stayer, undefined);
    await Promise.all([sent(1), sent(2), sent(3)]);

    // One synchronous step: the fan-out has not walked when the clients attach.
    hub.revokeCode(2);
    const from3 = new RecordingConnection('from3', principal);
    const from1 = new RecordingConnection('from1', principal);
    hub.attach(from3, 3);
    hub.attach(from1, 1);
    hub.revokeCode(3); // after attach: live for both
    await sent(4);

    assert.deepEqual(stayer.trail, ['code 1', 'code 2', 'code 3', 'revoke 2', 'revoke 3', 'code 4']);
    assert.deepEqual(from3.trail, ['revoke 2', 'revoke 3', 'code 4'], 'revoke 2 by replay only, revoke 3 live only');
    assert.deepEqual(from1.trail, ['code 3', 'revoke 3', 'code 4'], 'code 2 skipped, never revoked; code 3 before its revoke');
    for (const connection of [stayer, from3, from1]) hub.detach(connection);
  });
});
