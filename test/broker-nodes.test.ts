// Two nodes in one process, one deployment: what one node publishes through
// the broker reaches the other at once, not at its next poll of the
// database (the poll is set to a minute here). The same suite over each
// driver: the memory bus (nodes sharing an SQLite file) and Redis (nodes
// sharing a PostgreSQL database and a key prefix of their own on Redis).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BROKER_KINDS } from '../src/broker/index.js';
import { connectSubscriber, TRANSPORT_KINDS } from './support/clients.js';
import type { TestServer } from './support/server.js';
import { startTwoNodes } from './support/two-nodes.js';

const SLOW_POLL = { CODECAST_AUTH_POLL_MS: '60000' };

for (const driver of BROKER_KINDS)
  describe(`broker (${driver}): two nodes of one deployment`, () => {
    let a: TestServer;
    let b: TestServer;
    let drop: (() => Promise<void>) | undefined;

    before(async () => {
      ({ a, b, drop } = await startTwoNodes(driver, SLOW_POLL));
    });
    after(async () => {
      await b?.stop();
      await a?.stop();
      await drop?.();
    });

    test('a code and its revoke published on one node reach subscribers of the other', async () => {
      const user = await a.createUser('reader');
      const subscriber = await connectSubscriber('ws', b.url, { token: user.token });
      try {
        await subscriber.waitForEvent('hello');
        const { id } = await a.publish('ACROSS-1');
        await subscriber.waitForCodes(1);
        assert.deepEqual(subscriber.codeIds, [id]);
        assert.equal((await a.api('DELETE', `/api/v1/codes/${id}`)).status, 200);
        await subscriber.waitForEvent('revoke');
        assert.equal(subscriber.of('revoke')[0]?.data.id ?? subscriber.of('revoke')[0]?.data, id);
      } finally {
        await subscriber.close();
      }
    });

    for (const transport of TRANSPORT_KINDS) {
      test(`disabling a user on one node closes its ${transport} connection on the other at once`, async () => {
        const user = await a.createUser(`gone-${transport}`);
        // Known to B's cache first: without the broker, B would keep serving it until its poll.
        const subscriber = await connectSubscriber(transport, b.url, { token: user.token });
        await subscriber.waitForEvent('hello');
        const started = Date.now();
        assert.equal((await a.api('PATCH', `/api/v1/users/gone-${transport}`, { body: { disabled: true } })).status, 200);
        await subscriber.waitForEnd(5_000);
        assert.ok(Date.now() - started < 5_000, 'closed long before the 60 s poll');
        const again = await connectSubscriber(transport, b.url, { token: user.token });
        await again.waitForEnd(5_000);
        assert.equal(again.refusal, 'user_disabled', 'B no longer serves the cached user');
      });
    }

    test('revoking a token on one node closes its connections on the other at once', async () => {
      const user = await a.createUser('token-holder');
      const subscriber = await connectSubscriber('sse', b.url, { token: user.token });
      await subscriber.waitForEvent('hello');
      assert.equal((await a.api('DELETE', `/api/v1/tokens/${user.tokenId}`)).status, 200);
      await subscriber.waitForEnd(5_000);
      const again = await connectSubscriber('sse', b.url, { token: user.token });
      await again.waitForEnd(5_000);
      assert.equal(again.refusal, 'unauthorized');
    });

    test('a settings change on one node is in effect on the other at once', async () => {
      assert.equal((await a.api('PUT', '/api/v1/settings', { body: { defaultValue: 7 } })).status, 200);
      let seen: unknown;
      for (let i = 0; i < 50 && seen !== 7; i++) {
        seen = (await b.api('GET', '/api/v1/settings')).body.defaultValue;
        if (seen !== 7) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(seen, 7);
      const published = await b.api('POST', '/api/v1/codes', { body: { code: 'DEFAULTED-1' } });
      assert.equal(published.body.code.value, 7, 'B publishes with the default set on A');
    });

    test('the same code sent to both nodes at the same instant is published once: one 201, one 409', async () => {
      for (let round = 0; round < 5; round++) {
        const body = { code: `TWICE-${round}` };
        const answers = await Promise.all([a.api('POST', '/api/v1/codes', { body }), b.api('POST', '/api/v1/codes', { body })]);
        assert.deepEqual(answers.map((answer) => answer.status).sort(), [201, 409], `round ${round}`);
        const published = answers.find((answer) => answer.status === 201)?.body.code.id;
        assert.equal(answers.find((answer) => answer.status === 409)?.body.id, published, 'the 409 names the code published');
      }
    });

    test('one Idempotency-Key sent to both nodes at once publishes once; both answer that code', async () => {
      const user = await a.createUser('idempotent-reader');
      const subscriber = await connectSubscriber('sse', b.url, { token: user.token });
      try {
        await subscriber.waitForEvent('hello');
        const send = (node: TestServer) =>
          node.api('POST', '/api/v1/codes', { body: { code: 'KEYED-ONCE' }, headers: { 'idempotency-key': `key-${driver}` } });
        const answers = await Promise.all([send(a), send(b)]);
        assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 201]);
        assert.equal(answers[0]?.body.code.id, answers[1]?.body.code.id);
        await subscriber.waitForCodes(1);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.deepEqual(subscriber.codeIds, [answers[0]?.body.code.id], 'broadcast once');
      } finally {
        await subscriber.close();
      }
    });

    test('publishes on both nodes at once reach subscribers of both in one strictly increasing order', async () => {
      const user = await a.createUser('order-reader');
      const onA = await connectSubscriber('ws', a.url, { token: user.token });
      const onB = await connectSubscriber('socketio', b.url, { token: user.token });
      try {
        await Promise.all([onA.waitForEvent('hello'), onB.waitForEvent('hello')]);
        const ids: number[] = [];
        await Promise.all(
          [a, b].map(async (node, n) => {
            for (let i = 0; i < 40; i++) {
              const published = await node.api('POST', '/api/v1/codes', { body: { code: `ORDER-${n}-${i}` } });
              assert.equal(published.status, 201);
              ids.push(published.body.code.id);
            }
          }),
        );
        ids.sort((x, y) => x - y);
        await Promise.all([onA.waitForCodes(ids.length, 10_000), onB.waitForCodes(ids.length, 10_000)]);
        assert.deepEqual(onA.codeIds, ids, 'A: every id, in order, once');
        assert.deepEqual(onB.codeIds, ids, 'B: every id, in order, once');
      } finally {
        await onA.close();
        await onB.close();
      }
    });
  });
