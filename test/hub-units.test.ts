// The fan-out, the slow-consumer rule and the delivery ledger, with fake
// connections and encoders (the hub's own ports): what the real-socket
// tests show only through clients, checked step by step and fast.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryLedger, HistoryRing, Hub, isSlowConsumer, writesBehind, type HubOptions } from '../src/hub/index.js';
import { DeadlineQueue } from '../src/hub/deadline-queue.js';
import { code, EventEncoder, FakeConnection, outage, principal } from './support/fakes.js';

const OPTIONS: HubOptions = {
  maxConnections: 1000,
  maxConnectionsPerUser: 1000,
  connectionQueue: 3,
  heartbeatMs: 60_000,
  staleMs: 120_000,
};

function hubWith(deliveries = new DeliveryLedger(), options: Partial<HubOptions> = {}) {
  const hub = new Hub({ ...OPTIONS, ...options }, new HistoryRing(100), undefined, deliveries);
  const encoders = { sse: new EventEncoder('sse'), ws: new EventEncoder('ws'), socketio: new EventEncoder('socketio') };
  for (const encoder of Object.values(encoders)) hub.useEncoder(encoder);
  return { hub, encoders };
}

/** Publishes and waits until every connection has been written the code. */
function broadcast(hub: Hub, id: number): Promise<number> {
  return new Promise((resolve) => hub.broadcastCode(code(id), resolve));
}

describe('slow-consumer rule', () => {
  test('counts writes in a row behind a full buffer, and starts over when one finds room', () => {
    let backlog = 0;
    for (const full of [true, true, false, true]) backlog = writesBehind(backlog, full);
    assert.equal(backlog, 1);
    assert.equal(isSlowConsumer(3, 3), false, 'the bound itself is allowed');
    assert.equal(isSlowConsumer(4, 3), true);
  });
});

describe('fan-out with fake connections', () => {
  test('every connection of every transport gets each code once, in order, encoded once per transport', async () => {
    const { hub, encoders } = hubWith();
    const connections = (['sse', 'ws', 'socketio'] as const).flatMap((transport) =>
      Array.from({ length: 100 }, (_, i) => new FakeConnection(`${transport}-${i}`, principal(i + 1), transport)),
    );
    for (const connection of connections) hub.attach(connection, undefined);
    const before = { sse: encoders.sse.encoded, ws: encoders.ws.encoded };
    // Three publishes in one tick: the walk takes them together, 200+ connections over several slices.
    const sent = [broadcast(hub, 1), broadcast(hub, 2), broadcast(hub, 3)];
    await Promise.all(sent);
    for (const connection of connections) assert.deepEqual(connection.trail, ['code 1', 'code 2', 'code 3'], connection.id);
    assert.equal(encoders.sse.encoded - before.sse, 3, 'three codes, three encodings for 100 SSE connections');
    assert.equal(encoders.ws.encoded - before.ws, 3);
    assert.deepEqual(hub.stats().delivered, { sse: 300, ws: 300, socketio: 300 });
    for (const connection of connections) hub.detach(connection);
  });

  test('a code published mid-walk reaches connections attached before it live and after it by replay, never both', async () => {
    const { hub } = hubWith();
    const early = new FakeConnection('early', principal(1));
    hub.attach(early, undefined);
    hub.broadcastCode(code(1));
    // Attached in the same tick as the publish, before the walk: code 1 is history already.
    const late = new FakeConnection('late', principal(2));
    hub.attach(late, 0);
    await broadcast(hub, 2);
    assert.deepEqual(early.trail, ['code 1', 'code 2']);
    assert.deepEqual(late.trail, ['code 1', 'code 2']);
    assert.equal(hub.stats().replayed, 1, 'late had code 1 by replay');
    hub.detach(early);
    hub.detach(late);
  });

  test('a connection past the queue bound is closed as a slow consumer; the others still get the code', async () => {
    const { hub } = hubWith();
    const slow = new FakeConnection('slow', principal(1));
    const fine = new FakeConnection('fine', principal(2));
    hub.attach(slow, undefined);
    hub.attach(fine, undefined);
    slow.send = function (frame) {
      FakeConnection.prototype.send.call(this, frame);
      this.backlog = writesBehind(this.backlog, true);
    };
    for (let id = 1; id <= 4; id++) await broadcast(hub, id);
    assert.equal(slow.closedWith, 'slow_consumer', 'closed on its fourth write behind a full buffer');
    assert.deepEqual(fine.trail, ['code 1', 'code 2', 'code 3', 'code 4']);
    assert.equal(fine.closedWith, undefined);
    assert.equal(hub.stats().closes.slow_consumer, 1);
    assert.equal(hub.stats().connections, 1);
    hub.detach(fine);
  });

  test('a publish is announced sent once the connections it was handed to are written or gone', async () => {
    const { hub } = hubWith();
    const stays = new FakeConnection('stays', principal(1));
    const leaves = new FakeConnection('leaves', principal(2));
    hub.attach(stays, undefined);
    hub.attach(leaves, undefined);
    const audience = hub.broadcastCode(code(1));
    assert.deepEqual(audience, { sse: 2, ws: 0, socketio: 0 });
    hub.detach(leaves); // before the walk reaches it
    await broadcast(hub, 2);
    assert.deepEqual(stays.trail, ['code 1', 'code 2']);
    assert.deepEqual(leaves.trail, []);
    hub.detach(stays);
  });

  test('shutdown writes what was published, then the farewell, to every connection before closing any', () => {
    const { hub } = hubWith();
    const connections = [new FakeConnection('a', principal(1)), new FakeConnection('b', principal(2), 'ws')];
    for (const connection of connections) hub.attach(connection, undefined);
    hub.broadcastCode(code(1));
    hub.shutdown(1000);
    for (const connection of connections) {
      assert.deepEqual(
        connection.events.map((e) => e.type),
        ['hello', 'code', 'shutdown'],
      );
      assert.equal(connection.closedWith, 'shutdown');
    }
    assert.throws(() => hub.admit(3), /stopping/);
  });

  test('the sweeper closes connections whose peers have shown no sign of life for the stale time', () => {
    const { hub } = hubWith(undefined, { staleMs: 1000 });
    const quiet = new FakeConnection('quiet', principal(1));
    const lively = new FakeConnection('lively', principal(2));
    hub.attach(quiet, undefined);
    hub.attach(lively, undefined);
    const now = Date.now();
    quiet.alive = now - 1001;
    lively.alive = now - 500;
    assert.equal(hub.sweep(now), 1);
    assert.equal(quiet.closedWith, 'stale');
    assert.equal(lively.closedWith, undefined);
    hub.detach(lively);
  });
});

describe('delivery ledger', () => {
  test('replays are counted per code and written in one flush, with their transport', async () => {
    const written: [number, Record<string, number>, number][] = [];
    const ledger = new DeliveryLedger({ addDeliveries: async (id, counts, replayed) => void written.push([id, { ...counts }, replayed]) });
    const { hub } = hubWith(ledger);
    await broadcast(hub, 1);
    await broadcast(hub, 2);
    const a = new FakeConnection('a', principal(1), 'ws');
    const b = new FakeConnection('b', principal(2), 'socketio');
    hub.attach(a, 0);
    hub.attach(b, 1);
    await ledger.flush();
    assert.deepEqual(written, [
      [1, { sse: 0, ws: 1, socketio: 0 }, 1],
      [2, { sse: 0, ws: 1, socketio: 1 }, 2],
    ]);
    await ledger.flush();
    assert.equal(written.length, 2, 'nothing is written twice');
    assert.deepEqual(ledger.stats(), { delivered: { sse: 0, ws: 0, socketio: 0 }, replayed: 3 });
  });

  for (const batched of [false, true]) {
    test(`what the store cannot take is kept for the next flush, in full (${batched ? 'one batch' : 'a statement a code'})`, async () => {
      let down = true;
      const written: [number, Record<string, number>, number][] = [];
      const add = async (id: number, counts: Record<string, number>, replayed: number) => {
        if (down) throw outage();
        written.push([id, { ...counts }, replayed]);
      };
      const ledger = new DeliveryLedger({
        addDeliveries: add,
        ...(batched
          ? {
              addDeliveriesBatch: async (entries) => {
                if (down) throw outage();
                for (const e of entries) await add(e.codeId, e.counts, e.replayed);
              },
            }
          : {}),
      });
      ledger.replayed(1, 'sse');
      // Another node's code, fanned out here to two WebSocket connections.
      ledger.fannedOut(2, { sse: 0, ws: 2, socketio: 0 });
      await assert.rejects(ledger.flush(), /busy/);
      ledger.replayed(1, 'sse');
      down = false;
      await ledger.flush();
      assert.deepEqual(written, [
        [1, { sse: 2, ws: 0, socketio: 0 }, 2],
        [2, { sse: 0, ws: 2, socketio: 0 }, 0],
      ]);
    });
  }
});

describe("delivery ledger and this node's publishes", () => {
  const recorded = () => {
    const written: [number, Record<string, number>][] = [];
    const ledger = new DeliveryLedger({ addDeliveries: async (id, counts) => void written.push([id, { ...counts }]) });
    return { ledger, written };
  };

  test('a publish counts only the connections that came after its stored audience', async () => {
    const { ledger, written } = recorded();
    const sent: number[] = [];
    ledger.published(7, { sse: 2, ws: 1, socketio: 0 }, (ms) => sent.push(ms));
    ledger.fannedOut(7, { sse: 3, ws: 1, socketio: 0 })?.(4);
    await ledger.flush();
    assert.deepEqual(written, [[7, { sse: 1, ws: 0, socketio: 0 }]]);
    assert.deepEqual(sent, [4]);
  });

  test('a publish fanned out before it registered (a catch-up filled a gap with it) is counted once', async () => {
    const { ledger, written } = recorded();
    const sent: number[] = [];
    const done = ledger.fannedOut(8, { sse: 3, ws: 1, socketio: 0 });
    ledger.published(8, { sse: 2, ws: 1, socketio: 0 }, (ms) => sent.push(ms));
    assert.equal(sent.length, 0, 'the fan-out has not finished');
    done?.(6);
    assert.deepEqual(sent, [6]);
    // And one whose fan-out had finished already hears it at once.
    ledger.fannedOut(9, { sse: 1, ws: 0, socketio: 0 })?.(2);
    ledger.published(9, { sse: 1, ws: 0, socketio: 0 }, (ms) => sent.push(ms));
    assert.deepEqual(sent, [6, 2]);
    await ledger.flush();
    assert.deepEqual(written, [[8, { sse: 1, ws: 0, socketio: 0 }]], 'only what the stored audience lacks; nothing for 9');
  });
});

describe('deadline queue', () => {
  const busy = (waitedMs: number) => new Error(`waited ${waitedMs} ms`);

  test('runs up to its concurrency at once, starts the rest in order, and refuses one that waits past its deadline', async () => {
    const queue = new DeadlineQueue(80, busy, 2);
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) => () =>
      new Promise<string>((resolve) => {
        started.push(name);
        gates.set(name, () => resolve(name));
      });
    const a = queue.run(task('a'));
    const b = queue.run(task('b'));
    const c = queue.run(task('c'));
    const d = queue.run(task('d'));
    assert.deepEqual(started, ['a', 'b'], 'two at once, the others wait');
    assert.equal(queue.waiting, 2);
    gates.get('b')?.();
    assert.equal(await b, 'b');
    await new Promise(setImmediate);
    assert.deepEqual(started, ['a', 'b', 'c'], 'the first waiting starts when one ends');
    // d waits past its deadline behind a and c, never starts, and says how long it waited.
    await assert.rejects(d, /waited \d+ ms/);
    assert.deepEqual(started, ['a', 'b', 'c']);
    gates.get('a')?.();
    gates.get('c')?.();
    assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
    assert.equal(queue.waiting, 0);
  });
});
