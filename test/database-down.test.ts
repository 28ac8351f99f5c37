// The database-down path through the core, with fakes of its ports that
// reject as the store does in an outage (`DatabaseUnavailableError`): a
// publish or revoke that cannot be stored changes nothing and tells no
// one; bookkeeping that cannot be stored is kept, not lost; acks wait in
// memory up to a bound, then are refused with 503.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CodecastError, DatabaseUnavailableError, type Principal } from '../src/domain/index.js';
import { Acknowledger, HistoryRing, type AckLedger } from '../src/hub/index.js';
import type { AckRow } from '../src/store/index.js';
import { coreParts, type CoreParts } from './support/core-parts.js';
import { code, FakeConnection, outage, principal } from './support/fakes.js';

const admin: Principal = { ...principal(1), user: { ...principal(1).user, role: 'admin', username: 'admin' } };
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('publishing while the database is down', () => {
  test('a publish that cannot be stored is neither delivered nor sent to other nodes; the next one works', async () => {
    const parts = coreParts();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    parts.codes.failNext('insert');
    await assert.rejects(parts.publisher.publish({ code: 'LOST' }, admin), DatabaseUnavailableError);
    await tick();
    assert.deepEqual(reader.trail, []);
    assert.equal(parts.hub.lastId, 0);
    assert.deepEqual(parts.broker.published, []);
    const next = await parts.publisher.publish({ code: 'LOST' }, admin);
    assert.equal(next.code.id, 1, 'the failed publish left no mark, not even in the dedup window');
    parts.hub.detach(reader);
  });

  test('a failing Idempotency-Key read refuses the publish the same way', async () => {
    const parts = coreParts();
    parts.codes.failNext('idempotent');
    await assert.rejects(parts.publisher.publish({ code: 'X' }, admin, 'key-x'), DatabaseUnavailableError);
    assert.deepEqual(parts.broker.published, []);
  });

  test('a revoke that cannot be stored tells nobody', async () => {
    const parts = coreParts();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    const { code: published } = await parts.publisher.publish({ code: 'STAYS' }, admin);
    parts.codes.failNext('revoke');
    await assert.rejects(parts.publisher.revoke(published.id, admin), DatabaseUnavailableError);
    await tick();
    assert.deepEqual(reader.trail, [`code ${published.id}`]);
    assert.deepEqual(
      parts.broker.published.map((m) => m.type),
      ['code'],
    );
    parts.hub.detach(reader);
  });

  test('delivery figures that cannot be stored are kept, and written once the database is back', async () => {
    const parts = coreParts();
    let open!: () => void;
    parts.codes.insertGate = new Promise((resolve) => (open = resolve));
    const publishing = parts.publisher.publish({ code: 'MENDED' }, admin);
    await tick();
    const late = new FakeConnection('late', principal(3));
    parts.hub.attach(late, undefined);
    parts.deliveriesDown = true;
    open();
    const result = await publishing;
    assert.equal(parts.broker.published.length, 1, 'the code itself is out and stored: other nodes are told');
    await assert.rejects(parts.deliveries.flush(), 'the flush fails while the database is down');
    parts.deliveriesDown = false;
    await parts.deliveries.flush();
    assert.deepEqual(parts.written, [[result.code.id, { sse: 1, ws: 0, socketio: 0 }, 0]]);
    parts.hub.detach(late);
  });
});

// A commit whose answer is lost (the connection dropped between COMMIT and
// its reply) fails the publish as unavailable, yet the code is stored. That
// cannot be caused on demand against a real server (the window is the
// COMMIT's round trip), so these fake it in the code ledger: the insert
// stores, then rejects as the store does when the connection drops.
describe('a commit whose answer was lost', () => {
  /** The core over fakes, whose catch-up from the database is a real BrokerReceiver's over the same fakes. */
  function partsWithCatchUp(): CoreParts {
    return coreParts();
  }

  /** The next call of `method` does its work, then rejects as unavailable. */
  function loseAnswer(parts: CoreParts, method: 'insert' | 'revoke'): void {
    const real = parts.codes[method].bind(parts.codes) as (...args: unknown[]) => Promise<unknown>;
    (parts.codes as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      await real(...args);
      (parts.codes as unknown as Record<string, unknown>)[method] = real;
      throw outage();
    };
  }

  test('the code stored reaches subscribers before the next publish, in id order', async () => {
    const parts = partsWithCatchUp();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    loseAnswer(parts, 'insert');
    await assert.rejects(parts.publisher.publish({ code: 'LOST-ANSWER' }, admin), DatabaseUnavailableError);
    assert.equal(parts.codes.codes.length, 1, 'stored all the same');
    const next = await parts.publisher.publish({ code: 'NEXT' }, admin);
    await tick();
    assert.equal(next.code.id, 2);
    assert.deepEqual(reader.trail, ['code 1', 'code 2']);
    parts.hub.detach(reader);
  });

  test('when writes work again, the code stored reaches subscribers without another publish', async () => {
    const parts = partsWithCatchUp();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    loseAnswer(parts, 'insert');
    await assert.rejects(parts.publisher.publish({ code: 'LOST-ANSWER' }, admin), DatabaseUnavailableError);
    await parts.publisher.catchUp(); // what the composition root does on the store's writesResumed
    await tick();
    assert.deepEqual(reader.trail, ['code 1']);
    parts.hub.detach(reader);
  });

  test('a revoke stored with its answer lost is told before the next publish', async () => {
    const parts = partsWithCatchUp();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    const { code: first } = await parts.publisher.publish({ code: 'TO-REVOKE' }, admin);
    loseAnswer(parts, 'revoke');
    await assert.rejects(parts.publisher.revoke(first.id, admin), DatabaseUnavailableError);
    await parts.publisher.publish({ code: 'NEXT' }, admin);
    await tick();
    assert.deepEqual(reader.trail, ['code 1', 'revoke 1', 'code 2']);
    parts.hub.detach(reader);
  });

  test('a catch-up that cannot read refuses the publish, and the next one catches up', async () => {
    const parts = partsWithCatchUp();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    loseAnswer(parts, 'insert');
    await assert.rejects(parts.publisher.publish({ code: 'LOST-ANSWER' }, admin), DatabaseUnavailableError);
    parts.codes.failNext('list');
    await assert.rejects(parts.publisher.publish({ code: 'STILL-DOWN' }, admin), DatabaseUnavailableError);
    await parts.publisher.publish({ code: 'BACK' }, admin);
    await tick();
    assert.deepEqual(reader.trail, ['code 1', 'code 2']);
    assert.deepEqual(
      parts.codes.codes.map((c) => c.record.code),
      ['LOST-ANSWER', 'BACK'],
    );
    parts.hub.detach(reader);
  });
});

describe('acks while the database is down', () => {
  class FlakyAcks implements AckLedger {
    down = false;
    stored: AckRow[] = [];
    async byIds() {
      return [];
    }
    async ackedBy() {
      return [];
    }
    async addAcks(acks: readonly AckRow[]) {
      if (this.down) throw outage();
      this.stored.push(...acks);
    }
  }

  function acknowledgerOver(acks: FlakyAcks, maxPending: number) {
    const history = new HistoryRing(10);
    for (let id = 1; id <= 3; id++) history.push(code(id));
    const failures: { count: number; kept: boolean }[] = [];
    const acknowledger = new Acknowledger(acks, history, {
      maxPending,
      onFlushFailed: (_error, count, kept) => void failures.push({ count, kept }),
    });
    return { acknowledger, failures };
  }

  test('acks answered while writes fail are kept and written when the database is back', async () => {
    const acks = new FlakyAcks();
    const { acknowledger, failures } = acknowledgerOver(acks, 100);
    acks.down = true;
    assert.equal((await acknowledger.ack(1, principal(5))).first, true);
    assert.equal((await acknowledger.ack(1, principal(5))).first, false, 'once per user, known without a read');
    await acknowledger.flush();
    assert.deepEqual(failures, [{ count: 1, kept: true }]);
    acks.down = false;
    await acknowledger.flush();
    assert.deepEqual(
      acks.stored.map((a) => [a.codeId, a.userId]),
      [[1, 5]],
    );
    assert.equal(acknowledger.stats().pending, 0);
  });

  test('past the bound of waiting acks, an ack is refused as database_unavailable', async () => {
    const acks = new FlakyAcks();
    const { acknowledger } = acknowledgerOver(acks, 2);
    acks.down = true;
    await acknowledger.ack(1, principal(5));
    await acknowledger.ack(2, principal(5));
    await assert.rejects(acknowledger.ack(3, principal(5)), (error: unknown) => {
      assert.ok(error instanceof CodecastError);
      assert.equal(error.code, 'database_unavailable');
      assert.equal(error.retryAfterSeconds, 5);
      return true;
    });
  });

  test('a write that fails for another reason than an outage is dropped, not retried forever', async () => {
    const acks = new FlakyAcks();
    acks.addAcks = async () => {
      throw new Error('constraint violated');
    };
    const { acknowledger, failures } = acknowledgerOver(acks, 100);
    await acknowledger.ack(1, principal(5));
    await acknowledger.flush();
    assert.deepEqual(failures, [{ count: 1, kept: false }]);
    assert.equal(acknowledger.stats().pending, 0);
  });
});
