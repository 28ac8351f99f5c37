// The publish pipeline over fakes of its ports (code ledger, broker,
// delivery records): what a publish and a revoke do, in which order, and
// what the dedup window and an Idempotency-Key change.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CodecastError, DatabaseUnavailableError, type Principal } from '../src/domain/index.js';
import { coreParts } from './support/core-parts.js';
import { FakeConnection, principal } from './support/fakes.js';
import { waitFor } from './support/sse.js';

const admin: Principal = { ...principal(1), user: { ...principal(1).user, role: 'admin', username: 'admin' } };

function codeOf(error: unknown): string | undefined {
  return error instanceof CodecastError ? error.code : undefined;
}

describe('publisher', () => {
  test('stores the code and hands it to the broker, which brings it to local connections as to every node', async () => {
    const parts = coreParts();
    const reader = new FakeConnection('reader', principal(2), 'ws');
    parts.hub.attach(reader, undefined);
    let sentBefore = true;
    const deliver = parts.broker.publish.bind(parts.broker);
    parts.broker.publish = async (message) => {
      sentBefore = parts.hub.lastId === (message.type === 'code' ? message.code.id : -1);
      await deliver(message);
    };
    const result = await parts.publisher.publish({ code: ' summer-26 ', value: 3 }, admin);
    assert.equal(result.code.code, 'summer-26');
    assert.equal(result.replayed, false);
    assert.deepEqual(result.audience, { connections: 1, byTransport: { sse: 0, ws: 1, socketio: 0 } });
    assert.deepEqual(parts.codes.codes[0]?.record.delivered, { sse: 0, ws: 1, socketio: 0 }, 'the audience is stored with the code');
    assert.deepEqual(parts.broker.published, [{ type: 'code', node: 'node-a', code: result.code }]);
    assert.equal(sentBefore, false, 'nothing is sent before the broker has the code');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(reader.trail, [`code ${result.code.id}`]);
    assert.equal(parts.logged.published.length, 1, 'logged once the fan-out is done');
    parts.hub.detach(reader);
  });

  test('while the broker cannot carry messages, a publish or revoke is refused before it is stored', async () => {
    const parts = coreParts();
    const first = await parts.publisher.publish({ code: 'BEFORE' }, admin);
    parts.broker.down = 'Redis is not reachable';
    const refused = await parts.publisher.publish({ code: 'DURING' }, admin).catch((e: unknown) => e);
    assert.equal(codeOf(refused), 'broker_unavailable');
    assert.equal((refused as CodecastError).retryAfterSeconds, 2);
    assert.equal(codeOf(await parts.publisher.revoke(first.code.id, admin).catch((e: unknown) => e)), 'broker_unavailable');
    assert.equal(parts.codes.codes.length, 1, 'nothing stored');
    assert.equal(parts.codes.codes[0]?.record.revokedAt, null, 'nor revoked');
  });

  test('a stored code the broker then fails to take still reaches local connections, from the database', async () => {
    const parts = coreParts();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    parts.broker.failPublish = new Error('Redis went away');
    const result = await parts.publisher.publish({ code: 'STORED' }, admin);
    await waitFor(() => reader.trail.length > 0, 'the code from the database');
    assert.deepEqual(reader.trail, [`code ${result.code.id}`]);
    assert.deepEqual(parts.logged.failed, [result.code.id], 'the broker failure is logged');
    parts.hub.detach(reader);
  });

  test('a duplicate inside the window is refused with the earlier id; case counts unless the setting says not', async () => {
    const parts = coreParts();
    const first = await parts.publisher.publish({ code: 'ABC' }, admin);
    const again = await parts.publisher.publish({ code: 'ABC' }, admin).catch((error: unknown) => error);
    assert.equal(codeOf(again), 'duplicate_code');
    assert.deepEqual((again as CodecastError).details, { id: first.code.id });
    await parts.publisher.publish({ code: 'abc' }, admin);
    await parts.settings.update({ dedupCaseInsensitive: true }, 'admin');
    assert.equal(codeOf(await parts.publisher.publish({ code: 'aBc' }, admin).catch((e: unknown) => e)), 'duplicate_code');
    assert.equal(parts.broker.published.length, 2, 'refused publishes tell no one');
  });

  test('an Idempotency-Key answers the first publish again, and refuses a different request under it', async () => {
    const parts = coreParts();
    const first = await parts.publisher.publish({ code: 'ONCE', value: 1 }, admin, 'key-1');
    const retried = await parts.publisher.publish({ code: ' ONCE ', value: 1 }, admin, 'key-1');
    assert.equal(retried.replayed, true);
    assert.equal(retried.code.id, first.code.id);
    assert.equal(parts.broker.published.length, 1, 'a retry is never broadcast twice');
    const other = await parts.publisher.publish({ code: 'ONCE', value: 2 }, admin, 'key-1').catch((e: unknown) => e);
    assert.equal(codeOf(other), 'idempotency_key_reused');
  });

  test('publishes run one at a time: the second is not checked before the first is stored', async () => {
    const parts = coreParts();
    let open!: () => void;
    parts.codes.insertGate = new Promise((resolve) => (open = resolve));
    const first = parts.publisher.publish({ code: 'SAME' }, admin);
    const second = parts.publisher.publish({ code: 'SAME' }, admin).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(parts.codes.calls, ['insert'], 'the second waits');
    open();
    await first;
    assert.equal(codeOf(await second), 'duplicate_code', 'and then sees the first');
  });

  test('a connection that attaches while the code is stored is added to its delivery figures', async () => {
    const parts = coreParts();
    let open!: () => void;
    parts.codes.insertGate = new Promise((resolve) => (open = resolve));
    const publishing = parts.publisher.publish({ code: 'RACE' }, admin);
    await new Promise((resolve) => setImmediate(resolve));
    const late = new FakeConnection('late', principal(3), 'socketio');
    parts.hub.attach(late, undefined);
    open();
    const result = await publishing;
    assert.deepEqual(result.audience.byTransport, { sse: 0, ws: 0, socketio: 0 }, 'the audience when the publish began');
    await parts.deliveries.flush();
    assert.deepEqual(parts.written, [[result.code.id, { sse: 0, ws: 0, socketio: 1 }, 0]]);
    parts.hub.detach(late);
  });

  test('a revoke is stored before anyone is told, and refused for a code missing or revoked already', async () => {
    const parts = coreParts();
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    const { code } = await parts.publisher.publish({ code: 'GONE' }, admin);
    await parts.publisher.revoke(code.id, admin);
    assert.notEqual(parts.codes.codes[0]?.record.revokedAt, null);
    assert.deepEqual(parts.broker.published.at(-1), { type: 'revoke', node: 'node-a', id: code.id });
    assert.equal(codeOf(await parts.publisher.revoke(code.id, admin).catch((e: unknown) => e)), 'code_revoked');
    assert.equal(codeOf(await parts.publisher.revoke(99, admin).catch((e: unknown) => e)), 'code_not_found');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(reader.trail, [`code ${code.id}`, `revoke ${code.id}`]);
    parts.hub.detach(reader);
  });
});

describe('publisher queue deadline', () => {
  const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test('publishes and revokes that cannot start in time are refused as unavailable and never run', async () => {
    const parts = coreParts({ queueDeadlineMs: 100 });
    const { code: first } = await parts.publisher.publish({ code: 'FIRST' }, admin);
    let open!: () => void;
    parts.codes.insertGate = new Promise((resolve) => (open = resolve));
    const stuck = parts.publisher.publish({ code: 'STUCK' }, admin);
    const startedAt = Date.now();
    const queued = [
      parts.publisher.publish({ code: 'QUEUED-1' }, admin),
      parts.publisher.publish({ code: 'QUEUED-2' }, admin),
      parts.publisher.revoke(first.id, admin),
    ];
    const outcomes = await Promise.allSettled(queued);
    const waited = Date.now() - startedAt;
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof DatabaseUnavailableError, String(outcome.reason));
    }
    assert.ok(waited >= 90 && waited < 1_000, `refused after ${waited} ms`);
    open();
    const stuckResult = await stuck;
    assert.equal(stuckResult.code.code, 'STUCK', 'the one running is never abandoned');
    await waitMs(150);
    assert.deepEqual(
      parts.codes.codes.map((c) => c.record.code),
      ['FIRST', 'STUCK'],
      'the refused publishes were never stored',
    );
    assert.equal(parts.codes.codes[0]?.record.revokedAt, null, 'the refused revoke never ran');
    assert.deepEqual(
      parts.broker.published.map((m) => (m.type === 'code' ? m.code.code : m.type)),
      ['FIRST', 'STUCK'],
    );
    const after = await parts.publisher.publish({ code: 'AFTER' }, admin);
    assert.equal(after.code.id, 3, 'the queue works again once the one ahead finishes');
  });

  test('a publish whose turn comes before its deadline runs as usual', async () => {
    const parts = coreParts({ queueDeadlineMs: 500 });
    let open!: () => void;
    parts.codes.insertGate = new Promise((resolve) => (open = resolve));
    const ahead = parts.publisher.publish({ code: 'AHEAD' }, admin);
    const behind = parts.publisher.publish({ code: 'BEHIND' }, admin);
    await waitMs(50);
    parts.codes.insertGate = undefined;
    open();
    assert.deepEqual([(await ahead).code.id, (await behind).code.id], [1, 2]);
  });

  test('the deadline counts from when each was queued, not from the first', async () => {
    const parts = coreParts({ queueDeadlineMs: 150 });
    let open!: () => void;
    parts.codes.insertGate = new Promise((resolve) => (open = resolve));
    const ahead = parts.publisher.publish({ code: 'AHEAD' }, admin);
    const early = parts.publisher.publish({ code: 'EARLY' }, admin);
    await waitMs(100);
    const late = parts.publisher.publish({ code: 'LATE' }, admin);
    await assert.rejects(early, DatabaseUnavailableError);
    parts.codes.insertGate = undefined;
    open();
    await ahead;
    assert.equal((await late).code.code, 'LATE', 'queued later, it still had time when its turn came');
  });
});
