// A node's side of the broker contract, over fakes of its ports: what it
// does with each message, and how it catches up from the database when a
// driver says messages may have been lost.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { coreParts } from './support/core-parts.js';
import { waitFor } from './support/sse.js';
import { FakeConnection, principal } from './support/fakes.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function receiverOver(parts: ReturnType<typeof coreParts>) {
  return { receiver: parts.receiver, applied: parts.access.applied, polls: () => parts.access.polls };
}

describe('broker receiver', () => {
  test('codes and revokes from other nodes reach local connections in the order received', async () => {
    const parts = coreParts();
    const { receiver } = receiverOver(parts);
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    const stored = await parts.codes.insert(
      { code: 'FROM-B', value: null, type: null, message: null, ttlSeconds: null, source: 'api' },
      'from-b',
      1,
      Date.now(),
    );
    assert.ok('id' in stored);
    receiver.deliver({ type: 'code', node: 'node-b', code: stored });
    receiver.deliver({ type: 'revoke', node: 'node-b', id: stored.id });
    await tick();
    assert.deepEqual(reader.trail, [`code ${stored.id}`, `revoke ${stored.id}`]);
    parts.hub.detach(reader);
  });

  test('a code at or below the last one delivered (a catch-up got there first) is not sent again', async () => {
    const parts = coreParts();
    const { receiver } = receiverOver(parts);
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, undefined);
    const draft = { value: null, type: null, message: null, ttlSeconds: null, source: 'api' } as const;
    const first = await parts.codes.insert({ code: 'ONE', ...draft }, 'one', 1, Date.now());
    const second = await parts.codes.insert({ code: 'TWO', ...draft }, 'two', 1, Date.now());
    assert.ok('id' in first && 'id' in second);
    await receiver.catchUp();
    await tick();
    receiver.deliver({ type: 'code', node: 'node-b', code: first });
    receiver.deliver({ type: 'code', node: 'node-b', code: second });
    await tick();
    assert.deepEqual(reader.trail, [`code ${first.id}`, `code ${second.id}`]);
    parts.hub.detach(reader);
  });

  test('access withdrawn elsewhere is applied as the auth watcher applies it; settings are read again', async () => {
    const parts = coreParts();
    const { receiver, applied } = receiverOver(parts);
    receiver.deliver({ type: 'access', node: 'node-b', userId: 4, tokenId: null });
    receiver.deliver({ type: 'access', node: 'node-b', userId: 4, tokenId: 9 });
    // Changed on another node: stored, and this node's copy is stale until told.
    parts.storedSettings.defaultValue = 3;
    assert.equal(parts.settings.values.defaultValue, null);
    receiver.deliver({ type: 'settings', node: 'node-b' });
    await tick();
    assert.equal(parts.settings.values.defaultValue, 3);
    assert.deepEqual(applied, [
      { kind: 'user_changed', userId: 4, tokenId: null },
      { kind: 'token_revoked', userId: 4, tokenId: 9 },
    ]);
  });

  test('catching up delivers the live codes it missed in id order, then the revokes of codes it holds', async () => {
    const parts = coreParts();
    const { receiver, polls } = receiverOver(parts);
    const draft = (text: string, ttlSeconds: number | null = null) => ({
      code: text,
      value: null,
      type: null,
      message: null,
      ttlSeconds,
      source: 'api',
    });
    // Codes 1 and 2 reached this node; 3 to 6 were published while its broker was away.
    for (let id = 1; id <= 6; id++) await parts.codes.insert(draft(`C${id}`), `c${id}`, 1, Date.now());
    for (const id of [1, 2]) parts.hub.broadcastCode((await parts.codes.byId(id))!);
    const reader = new FakeConnection('reader', principal(2));
    parts.hub.attach(reader, 2);
    await parts.codes.revoke(2, new Date()); // a held code, revoked meanwhile
    await parts.codes.revoke(4, new Date()); // a missed code, revoked before it arrived
    parts.codes.codes[4]!.record = { ...parts.codes.codes[4]!.record, expiresAt: new Date(Date.now() - 1000).toISOString() }; // 5 expired

    await receiver.catchUp();
    await tick();
    assert.deepEqual(reader.trail, ['code 3', 'code 6', 'revoke 2']);
    assert.equal(parts.hub.lastId, 6);
    assert.equal(polls(), 1, 'access changes are read again');

    await receiver.catchUp();
    await tick();
    assert.deepEqual(reader.trail, ['code 3', 'code 6', 'revoke 2'], 'a second catch-up repeats nothing');
    parts.hub.detach(reader);
  });

  test('catching up reads the codes page by page', async () => {
    const parts = coreParts({ dedupMs: 0 });
    const { receiver } = receiverOver(parts);
    const draft = { code: 'P', value: null, type: null, message: null, ttlSeconds: null, source: 'api' };
    for (let id = 1; id <= 1203; id++) await parts.codes.insert(draft, `p${id}`, 1, Date.now());
    await receiver.catchUp();
    assert.equal(parts.hub.lastId, 1203);
    assert.equal(parts.codes.calls.filter((c) => c === 'list').length, 4, 'three pages of 500, the last short, and the held codes');
  });

  // Two nodes append after their commits, in either order: the stream may
  // carry 5 before 4. Every code below the one that skips is committed then.
  describe('the one order, whatever order the stream carries', () => {
    const draft = (text: string) => ({ code: text, value: null, type: null, message: null, ttlSeconds: null, source: 'api' });
    async function stored(parts: ReturnType<typeof coreParts>, count: number) {
      const codes = [];
      for (let i = 1; i <= count; i++) {
        const code = await parts.codes.insert(draft(`O${i}`), `o${i}`, 1, Date.now());
        assert.ok('id' in code);
        codes.push(code);
      }
      return codes;
    }

    test('a code that skips one is sent after a catch-up, in id order; the late one is not sent again', async () => {
      const parts = coreParts();
      const [one, two, three] = await stored(parts, 3);
      const reader = new FakeConnection('reader', principal(2));
      parts.hub.attach(reader, undefined);
      parts.receiver.deliver({ type: 'code', node: 'b', code: one! });
      parts.receiver.deliver({ type: 'code', node: 'b', code: three! });
      parts.receiver.deliver({ type: 'code', node: 'a', code: two! });
      await waitFor(() => reader.trail.length >= 3, 'the codes in order');
      assert.deepEqual(reader.trail, ['code 1', 'code 2', 'code 3']);
      assert.deepEqual(parts.receiverFailures, []);
      parts.hub.detach(reader);
    });

    test('a gap catches up only the codes below it: a revoke the stream carries after it keeps its place on every node', async () => {
      const parts = coreParts();
      const [one, two, three, four, five] = await stored(parts, 5);
      const reader = new FakeConnection('reader', principal(2));
      parts.hub.attach(reader, undefined);
      // Every code is committed already; a catch-up that read them all would send 5 before the revoke of 1.
      for (const message of [
        { type: 'code', node: 'a', code: one! },
        { type: 'code', node: 'b', code: four! },
        { type: 'revoke', node: 'a', id: 1 },
        { type: 'code', node: 'c', code: two! },
        { type: 'code', node: 'c', code: three! },
        { type: 'code', node: 'a', code: five! },
      ] as const)
        parts.receiver.deliver(message);
      await waitFor(() => reader.trail.length >= 6, 'the codes in order');
      assert.deepEqual(reader.trail, ['code 1', 'code 2', 'code 3', 'code 4', 'revoke 1', 'code 5']);
      parts.hub.detach(reader);
    });

    test('a gap over a code revoked before it could be sent is crossed once, not caught up for ever', async () => {
      const parts = coreParts();
      const [one, , three] = await stored(parts, 3);
      await parts.codes.revoke(2, new Date());
      const reader = new FakeConnection('reader', principal(2));
      parts.hub.attach(reader, undefined);
      parts.receiver.deliver({ type: 'code', node: 'a', code: one! });
      const before = parts.codes.calls.filter((c) => c === 'list').length;
      parts.receiver.deliver({ type: 'code', node: 'a', code: three! });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(reader.trail, ['code 1', 'code 3']);
      assert.equal(parts.codes.calls.filter((c) => c === 'list').length - before, 1, 'one read of the database');
      parts.hub.detach(reader);
    });

    test('messages that arrive while a catch-up runs wait for it, then follow the same rule', async () => {
      const parts = coreParts();
      const [, two, three, four] = await stored(parts, 4);
      const reader = new FakeConnection('reader', principal(2));
      parts.hub.attach(reader, undefined);
      // The database answers slowly: codes 1 and 2 only are committed when the catch-up reads.
      parts.codes.codes.splice(2);
      const catchingUp = parts.receiver.catchUp();
      parts.receiver.deliver({ type: 'code', node: 'b', code: two! });
      parts.receiver.deliver({ type: 'revoke', node: 'b', id: 1 });
      parts.receiver.deliver({ type: 'code', node: 'b', code: three! });
      assert.deepEqual(reader.trail, [], 'nothing is sent before the catch-up');
      await catchingUp;
      parts.receiver.deliver({ type: 'code', node: 'b', code: four! });
      await waitFor(() => reader.trail.length >= 5, 'the codes in order');
      assert.deepEqual(reader.trail, ['code 1', 'code 2', 'revoke 1', 'code 3', 'code 4']);
      parts.hub.detach(reader);
    });

    test('a revoke that arrives before its code means the code is never sent', async () => {
      const parts = coreParts();
      const [one, two, three] = await stored(parts, 3);
      await parts.codes.revoke(2, new Date());
      const reader = new FakeConnection('reader', principal(2));
      parts.hub.attach(reader, undefined);
      parts.receiver.deliver({ type: 'code', node: 'b', code: one! });
      parts.receiver.deliver({ type: 'revoke', node: 'a', id: 2 });
      parts.receiver.deliver({ type: 'code', node: 'b', code: two! });
      parts.receiver.deliver({ type: 'code', node: 'b', code: three! });
      await waitFor(() => reader.trail.length >= 2, 'the codes in order');
      assert.deepEqual(reader.trail, ['code 1', 'code 3']);
      parts.hub.detach(reader);
    });

    test('a catch-up the database refuses is tried again by itself; messages wait for it', async () => {
      const parts = coreParts();
      const [one, two, three] = await stored(parts, 3);
      const reader = new FakeConnection('reader', principal(2));
      parts.hub.attach(reader, undefined);
      parts.receiver.deliver({ type: 'code', node: 'b', code: one! });
      parts.codes.failNext('list');
      parts.receiver.deliver({ type: 'code', node: 'b', code: three! });
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(reader.trail, ['code 1'], 'code 3 waits: code 2 could not be read');
      assert.equal(parts.receiverFailures.length, 1);
      parts.receiver.deliver({ type: 'code', node: 'a', code: two! });
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      assert.deepEqual(reader.trail, ['code 1', 'code 2', 'code 3']);
      parts.receiver.stop();
      parts.hub.detach(reader);
    });
  });
});
