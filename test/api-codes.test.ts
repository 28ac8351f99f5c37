import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { STORE_KINDS, startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { SseReader, waitFor } from './support/sse.js';

const DEDUP_SECONDS = 1;

// Everything here is what a store keeps: it runs on each (issue 10).
for (const store of STORE_KINDS) {
  describe(`codes API on ${store}`, () => {
    let t: TestServer;
    let alice: { id: number; token: string; tokenId: number };
    let bob: { id: number; token: string; tokenId: number };
    const readers: SseReader[] = [];

    before(async () => {
      t = await startTestServer({ CODECAST_DEDUP_SECONDS: String(DEDUP_SECONDS), CODECAST_HISTORY: '50' }, { store });
      alice = await t.createUser('codes-alice');
      bob = await t.createUser('codes-bob');
    });
    afterEach(async () => {
      // Every test leaves no stream open, so audience counts start from zero.
      for (const reader of readers.splice(0)) reader.close();
      await waitFor(() => openConnections() === 0, 'every stream to close');
    });
    after(async () => {
      await t?.stop();
    });

    function openConnections(): number {
      return (t.server.stats() as { connections: { total: number } }).connections.total;
    }

    async function open(token: string, since?: number): Promise<SseReader> {
      const reader = await SseReader.open(t.url, { token, since });
      readers.push(reader);
      await reader.waitForEvent('hello');
      return reader;
    }

    function publish(body: unknown, headers?: Record<string, string>): Promise<ApiResponse> {
      return t.api('POST', '/api/v1/codes', { body, headers });
    }

    function assertError(res: ApiResponse, status: number, error: string): void {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body?.error, error, JSON.stringify(res.body));
      assert.equal(typeof res.body.message, 'string');
    }

    async function allCodes(): Promise<{ id: number; code: string; revokedAt: string | null }[]> {
      const res = await t.api('GET', '/api/v1/codes?all=true&limit=1000');
      assert.equal(res.status, 200);
      return res.body.codes;
    }

    /** Waits until `ms` have passed since an ISO time. */
    async function waitUntilPast(iso: string, ms: number): Promise<void> {
      const wait = Date.parse(iso) + ms - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }

    describe('publish validation', () => {
      test('the code is trimmed', async () => {
        const res = await publish({ code: '   TRIM-ME \t ' });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.code.code, 'TRIM-ME');
      });

      test('invalid codes are 400 invalid_code naming the field, and nothing is published', async () => {
        const before = (await allCodes()).length;
        const cases: [unknown, string][] = [
          [{ code: '' }, 'code'],
          [{ code: '    ' }, 'code'],
          [{ code: 'x'.repeat(129) }, 'code'],
          [{ code: 'NEW\nLINE' }, 'code'],
          [{ code: 'TAB\tBED' }, 'code'],
          [{ code: 'NUL\u0000X' }, 'code'],
          [{ code: 'BELL\u0007' }, 'code'],
          [{ code: 'ESC\u001b[31m' }, 'code'],
          [{ code: 'LS\u2028X' }, 'code'],
          [{ code: 'MSG-LONG', message: 'm'.repeat(1001) }, 'message'],
          [{ code: 'MSG-CTRL', message: 'bad \u0001 char' }, 'message'],
          [{ code: 'TYPE-BAD', type: 'not a word' }, 'type'],
          [{ code: 'TYPE-BAD', type: '!bang' }, 'type'],
          [{ code: 'SRC-BAD', source: 'two words' }, 'source'],
        ];
        for (const [body, field] of cases) {
          const res = await publish(body);
          assertError(res, 400, 'invalid_code');
          assert.equal(res.body.field, field, JSON.stringify(body));
        }
        assert.equal((await allCodes()).length, before);
      });

      test('exactly 128 characters and exactly 1000 of message are fine', async () => {
        const code = `L${'x'.repeat(127)}`;
        const res = await publish({ code, message: 'm'.repeat(1000) });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.code.code, code);
        assert.equal(res.body.code.message.length, 1000);
      });

      test('a message with newlines and tabs is fine and reaches a reader intact', async () => {
        const reader = await open(alice.token);
        const message = 'Line one\nLine two\n\tindented: "quoted"';
        const res = await publish({ code: 'MULTI-LINE', message });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.code.message, message);
        await reader.waitForEvent('code');
        assert.equal(reader.of('code')[0]?.data.message, message);
      });

      test('wrong types, unknown fields and a missing code are 400 invalid_request', async () => {
        const before = (await allCodes()).length;
        const cases: unknown[] = [
          { code: 'TYPES-1', value: '3' },
          { code: 'TYPES-2', value: true },
          { code: 42 },
          { code: ['A'] },
          { code: null },
          { code: 'TYPES-3', message: 7 },
          { code: 'TYPES-4', type: 5 },
          { code: 'TYPES-5', ttlSeconds: '60' },
          { code: 'TYPES-6', ttlSeconds: 1.5 },
          { code: 'TYPES-7', source: null },
          { code: 'TYPES-8', colour: 'red' },
          { value: 3 },
          {},
        ];
        for (const body of cases) {
          const res = await publish(body);
          assertError(res, 400, 'invalid_request');
          assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message'], JSON.stringify(body));
        }
        const unknown = await publish({ code: 'TYPES-9', colour: 'red' });
        assert.match(unknown.body.message, /colour/);
        assert.equal((await allCodes()).length, before);
      });

      test('ttlSeconds 0 or negative is 400', async () => {
        for (const ttlSeconds of [0, -5, 365 * 24 * 3600 + 1]) {
          const res = await publish({ code: `TTL-${ttlSeconds}`, ttlSeconds });
          assert.equal(res.status, 400, JSON.stringify(res.body));
          assert.ok(['invalid_request', 'invalid_code'].includes(res.body.error), res.body.error);
        }
        assert.ok(!(await allCodes()).some((c) => c.code.startsWith('TTL-')));
      });
    });

    describe('publish answer', () => {
      test('201 with the code and its audience; ids increase', async () => {
        const first = await publish({ code: 'SHAPE-1', value: 3, type: 'drop', message: 'hello', ttlSeconds: 600, source: 'cli' });
        assert.equal(first.status, 201, JSON.stringify(first.body));
        assert.deepEqual(Object.keys(first.body).sort(), ['audience', 'code']);
        const code = first.body.code;
        assert.deepEqual(Object.keys(code).sort(), ['code', 'expiresAt', 'id', 'message', 'publishedAt', 'source', 'type', 'value']);
        assert.ok(Number.isInteger(code.id) && code.id > 0);
        assert.equal(code.code, 'SHAPE-1');
        assert.equal(code.value, 3);
        assert.equal(code.type, 'drop');
        assert.equal(code.message, 'hello');
        assert.equal(code.source, 'cli');
        assert.equal(Date.parse(code.expiresAt) - Date.parse(code.publishedAt), 600_000);
        assert.ok(Math.abs(Date.parse(code.publishedAt) - Date.now()) < 60_000);
        assert.deepEqual(first.body.audience, { connections: 0, byTransport: { sse: 0, ws: 0, socketio: 0 } });

        const second = await publish({ code: 'SHAPE-2' });
        assert.equal(second.status, 201);
        assert.ok(second.body.code.id > code.id);
        assert.equal(second.body.code.value, null);
        assert.equal(second.body.code.type, null);
        assert.equal(second.body.code.message, null);
        assert.equal(second.body.code.expiresAt, null);
        assert.equal(second.body.code.source, 'api');
        const third = await publish({ code: 'SHAPE-3' });
        assert.ok(third.body.code.id > second.body.code.id);
      });

      test('the audience counts connected readers, and they receive the code', async () => {
        const one = await open(alice.token);
        const res1 = await publish({ code: 'AUDIENCE-1' });
        assert.deepEqual(res1.body.audience, { connections: 1, byTransport: { sse: 1, ws: 0, socketio: 0 } });
        const two = await open(bob.token);
        const three = await open(bob.token);
        const res2 = await publish({ code: 'AUDIENCE-2' });
        assert.deepEqual(res2.body.audience, { connections: 3, byTransport: { sse: 3, ws: 0, socketio: 0 } });
        await one.waitForEvent('code', 2);
        await two.waitForEvent('code');
        await three.waitForEvent('code');
        assert.deepEqual(one.codeIds(), [res1.body.code.id, res2.body.code.id]);
        assert.deepEqual(two.codeIds(), [res2.body.code.id]);
        assert.deepEqual(two.of('code')[0]?.data, res2.body.code);
        assert.equal(two.of('code')[0]?.id, String(res2.body.code.id));
      });
    });

    describe('dedup', () => {
      test(`the same code within ${DEDUP_SECONDS} s is 409 with the earlier id; after the window it is accepted`, async () => {
        const reader = await open(alice.token);
        const first = await publish({ code: 'DUP-A', value: 1 });
        assert.equal(first.status, 201);
        const again = await publish({ code: 'DUP-A', value: 2 });
        assertError(again, 409, 'duplicate_code');
        assert.equal(again.body.id, first.body.code.id);
        // Trimming applies before the comparison.
        const padded = await publish({ code: '  DUP-A  ' });
        assertError(padded, 409, 'duplicate_code');
        assert.equal(padded.body.id, first.body.code.id);
        // A different code is not a duplicate.
        assert.equal((await publish({ code: 'DUP-B' })).status, 201);

        await waitUntilPast(first.body.code.publishedAt, DEDUP_SECONDS * 1000 + 50);
        const later = await publish({ code: 'DUP-A' });
        assert.equal(later.status, 201, JSON.stringify(later.body));
        assert.ok(later.body.code.id > first.body.code.id);
        // The reader saw only the accepted ones.
        await reader.waitForEvent('code', 3);
        assert.deepEqual(
          reader.of('code').map((e) => e.data.code),
          ['DUP-A', 'DUP-B', 'DUP-A'],
        );
      });

      test('a revoked code does not block publishing it again', async () => {
        const first = await t.publish('DUP-REVOKED');
        assert.equal((await t.api('DELETE', `/api/v1/codes/${first.id}`)).status, 200);
        const again = await publish({ code: 'DUP-REVOKED' });
        assert.equal(again.status, 201, JSON.stringify(again.body));
      });

      test('case-sensitive by default; case-insensitive once the setting says so', async () => {
        assert.equal((await t.api('GET', '/api/v1/settings')).body.dedupCaseInsensitive, false);
        assert.equal((await publish({ code: 'CaseX' })).status, 201);
        assert.equal((await publish({ code: 'casex' })).status, 201, 'different case is a different code');
        assertError(await publish({ code: 'CaseX' }), 409, 'duplicate_code');

        const put = await t.api('PUT', '/api/v1/settings', { body: { dedupCaseInsensitive: true } });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        assert.equal(put.body.dedupCaseInsensitive, true);
        try {
          assert.equal((await t.api('GET', '/api/v1/settings')).body.dedupCaseInsensitive, true);
          const first = await publish({ code: 'CaseY' });
          assert.equal(first.status, 201);
          for (const variant of ['casey', 'CASEY', ' cAsEy ']) {
            const res = await publish({ code: variant });
            assertError(res, 409, 'duplicate_code');
            assert.equal(res.body.id, first.body.code.id);
          }
        } finally {
          const reset = await t.api('PUT', '/api/v1/settings', { body: { dedupCaseInsensitive: false } });
          assert.equal(reset.body.dedupCaseInsensitive, false);
        }
        assert.equal((await publish({ code: 'CaseZ' })).status, 201);
        assert.equal((await publish({ code: 'casez' })).status, 201);
      });
    });

    describe('runtime settings', () => {
      test('the default value fills `value` for codes published without one', async () => {
        assert.equal((await t.api('GET', '/api/v1/settings')).body.defaultValue, null);
        const put = await t.api('PUT', '/api/v1/settings', { body: { defaultValue: 5 } });
        assert.equal(put.status, 200);
        assert.deepEqual(put.body, { dedupCaseInsensitive: false, defaultValue: 5 });
        try {
          const reader = await open(alice.token);
          const without = await publish({ code: 'DEFAULT-1' });
          assert.equal(without.body.code.value, 5);
          const given = await publish({ code: 'DEFAULT-2', value: 2 });
          assert.equal(given.body.code.value, 2);
          const zero = await publish({ code: 'DEFAULT-3', value: 0 });
          assert.equal(zero.body.code.value, 0);
          await reader.waitForEvent('code', 3);
          assert.deepEqual(
            reader.of('code').map((e) => e.data.value),
            [5, 2, 0],
          );
          // Stored too.
          const stored = await t.api('GET', `/api/v1/codes/${without.body.code.id}`);
          assert.equal(stored.body.code.value, 5);
        } finally {
          const reset = await t.api('PUT', '/api/v1/settings', { body: { defaultValue: null } });
          assert.equal(reset.body.defaultValue, null);
        }
        assert.equal((await publish({ code: 'DEFAULT-4' })).body.code.value, null);
      });

      test('settings validation: unknown key or wrong type is 400 and changes nothing', async () => {
        const before = (await t.api('GET', '/api/v1/settings')).body;
        assert.deepEqual(before, { dedupCaseInsensitive: false, defaultValue: null });
        const bad: unknown[] = [
          { colour: 'red' },
          { dedupCaseInsensitive: 'yes' },
          { dedupCaseInsensitive: 1 },
          { defaultValue: '3' },
          { defaultValue: true },
          { dedupCaseInsensitive: true, extra: 1 },
        ];
        for (const body of bad) {
          assertError(await t.api('PUT', '/api/v1/settings', { body }), 400, 'invalid_request');
        }
        assert.deepEqual((await t.api('GET', '/api/v1/settings')).body, before);
        const userPut = await t.api('PUT', '/api/v1/settings', { token: alice.token, body: { defaultValue: 1 } });
        assertError(userPut, 403, 'forbidden');
        assert.deepEqual((await t.api('GET', '/api/v1/settings')).body, before);
      });
    });

    describe('Idempotency-Key', () => {
      test('a repeat answers 200 with the first code, marked replayed, and is broadcast once', async () => {
        const reader = await open(alice.token);
        const body = { code: 'IDEM-1', value: 9, message: 'once' };
        const headers = { 'idempotency-key': 'order-4711' };
        const first = await publish(body, headers);
        assert.equal(first.status, 201, JSON.stringify(first.body));
        assert.equal(first.headers.get('idempotent-replayed'), null);
        assert.equal(first.body.audience.connections, 1);

        const repeat = await publish(body, headers);
        assert.equal(repeat.status, 200, JSON.stringify(repeat.body));
        assert.equal(repeat.headers.get('idempotent-replayed'), 'true');
        assert.deepEqual(repeat.body.code, first.body.code);
        assert.equal(repeat.body.audience.connections, first.body.audience.connections);

        // Even once the dedup window has passed, the key answers the same code.
        await waitUntilPast(first.body.code.publishedAt, DEDUP_SECONDS * 1000 + 50);
        const late = await publish(body, headers);
        assert.equal(late.status, 200);
        assert.equal(late.body.code.id, first.body.code.id);

        // A marker published afterwards proves the reader has seen everything sent before it.
        const marker = await t.publish('IDEM-MARKER');
        await waitFor(() => reader.codeIds().includes(marker.id), 'the marker');
        assert.deepEqual(reader.codeIds(), [first.body.code.id, marker.id]);
        assert.equal((await allCodes()).filter((c) => c.code === 'IDEM-1').length, 1);
      });

      test('the same key with a different body is 422 idempotency_key_reused', async () => {
        const headers = { 'idempotency-key': 'key-reuse' };
        const first = await publish({ code: 'IDEM-2' }, headers);
        assert.equal(first.status, 201);
        const other = await publish({ code: 'IDEM-2-OTHER' }, headers);
        assertError(other, 422, 'idempotency_key_reused');
        const changedValue = await publish({ code: 'IDEM-2', value: 1 }, headers);
        assertError(changedValue, 422, 'idempotency_key_reused');
        assert.ok(!(await allCodes()).some((c) => c.code === 'IDEM-2-OTHER'));
      });

      test('different keys are different publishes (subject to dedup)', async () => {
        const a = await publish({ code: 'IDEM-3' }, { 'idempotency-key': 'k-a' });
        assert.equal(a.status, 201);
        const b = await publish({ code: 'IDEM-3' }, { 'idempotency-key': 'k-b' });
        assertError(b, 409, 'duplicate_code');
        assert.equal(b.body.id, a.body.code.id);
      });

      test('a bad key is 400', async () => {
        for (const key of ['k'.repeat(300), 'has space', 'tab\there', 'ünïcode']) {
          const res = await t
            .api('POST', '/api/v1/codes', {
              body: { code: `IDEM-BAD-${key.length}` },
              headers: { 'idempotency-key': key },
            })
            .catch((error: unknown) => {
              // fetch itself refuses some header values; that is not a server answer.
              if (key !== 'ünïcode') throw error;
              return undefined;
            });
          if (res === undefined) continue;
          assertError(res, 400, 'invalid_request');
        }
        assert.ok(!(await allCodes()).some((c) => c.code.startsWith('IDEM-BAD')));
      });
    });

    describe('revoke', () => {
      test('200, subscribers are told, then 409 code_revoked; unknown 404; non-admin 403', async () => {
        const reader = await open(alice.token);
        const { id } = await t.publish('REVOKE-1', { value: 4 });
        const res = await t.api('DELETE', `/api/v1/codes/${id}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.revoked, true);
        assert.equal(res.body.code.id, id);
        assert.equal(res.body.code.code, 'REVOKE-1');
        await reader.waitForEvent('revoke');
        assert.deepEqual(reader.of('revoke')[0]?.data, { id });

        const again = await t.api('DELETE', `/api/v1/codes/${id}`);
        assertError(again, 409, 'code_revoked');
        assertError(await t.api('DELETE', '/api/v1/codes/999999'), 404, 'code_not_found');
        const { id: other } = await t.publish('REVOKE-2');
        assertError(await t.api('DELETE', `/api/v1/codes/${other}`, { token: alice.token }), 403, 'forbidden');
        // Still live: a user revoke did nothing.
        assert.equal((await t.api('GET', `/api/v1/codes/${other}`)).body.code.revokedAt, null);
        // A revoked code is not replayed to a reader coming back.
        const back = await open(bob.token, id - 1);
        const marker = await t.publish('REVOKE-MARKER');
        await waitFor(() => back.codeIds().includes(marker.id), 'the marker');
        assert.ok(!back.codeIds().includes(id));
        assert.ok(back.codeIds().includes(other));
      });
    });

    describe('history: GET /codes', () => {
      test('since, limit, oldest first; revoked and expired left out; all=true for admins only', async () => {
        const start = (await t.api('GET', '/api/v1/stats')).body.codes.lastId as number;
        const a = await t.publish('LIST-A');
        const b = await t.publish('LIST-B', { ttlSeconds: 1 });
        const c = await t.publish('LIST-C');
        const d = await t.publish('LIST-D');
        assert.equal((await t.api('DELETE', `/api/v1/codes/${c.id}`)).status, 200);

        const ids = async (query: string, token?: string) => {
          const res = await t.api('GET', `/api/v1/codes?${query}`, { token });
          assert.equal(res.status, 200, JSON.stringify(res.body));
          return res.body.codes.map((x: { id: number }) => x.id);
        };
        assert.deepEqual(await ids(`since=${start}`, alice.token), [a.id, b.id, d.id]);
        assert.deepEqual(await ids(`since=${start}&limit=2`, alice.token), [a.id, b.id]);
        assert.deepEqual(await ids(`since=${a.id}&limit=1`, alice.token), [b.id]);
        assert.deepEqual(await ids(`since=${d.id}`, alice.token), []);
        const plain = await t.api('GET', `/api/v1/codes?since=${start}`, { token: alice.token });
        assert.deepEqual(Object.keys(plain.body.codes[0]).sort(), [
          'code',
          'expiresAt',
          'id',
          'message',
          'publishedAt',
          'source',
          'type',
          'value',
        ]);
        // Without since: from the start, oldest first.
        const everything = await ids('limit=1000', alice.token);
        assert.deepEqual(
          [...everything].sort((x: number, y: number) => x - y),
          everything,
        );

        await waitUntilPast((await t.api('GET', `/api/v1/codes/${b.id}`)).body.code.expiresAt, 50);
        assert.deepEqual(await ids(`since=${start}`, alice.token), [a.id, d.id], 'the expired code is left out');

        const all = await t.api('GET', `/api/v1/codes?since=${start}&all=true`);
        assert.equal(all.status, 200);
        assert.deepEqual(
          all.body.codes.map((x: { id: number }) => x.id),
          [a.id, b.id, c.id, d.id],
        );
        const byId = new Map(all.body.codes.map((x: { id: number }) => [x.id, x]));
        assert.equal((byId.get(c.id) as { revokedAt: string }).revokedAt !== null, true);
        assert.ok(!Number.isNaN(Date.parse((byId.get(c.id) as { revokedAt: string }).revokedAt)));
        assert.equal((byId.get(a.id) as { revokedAt: null }).revokedAt, null);
        assert.equal((byId.get(b.id) as { revokedAt: null }).revokedAt, null);

        assertError(await t.api('GET', '/api/v1/codes?all=true', { token: alice.token }), 403, 'forbidden');
        assertError(await t.api('GET', '/api/v1/codes?limit=0'), 400, 'invalid_request');
        assertError(await t.api('GET', '/api/v1/codes?limit=1001'), 400, 'invalid_request');
        assertError(await t.api('GET', '/api/v1/codes?since=-1'), 400, 'invalid_request');
        assertError(await t.api('GET', '/api/v1/codes?since=abc'), 400, 'invalid_request');
      });
    });

    describe('one code: delivery figures and acks', () => {
      test('delivery.total equals the connections it was handed to', async () => {
        await open(alice.token);
        await open(bob.token);
        await open(t.adminToken);
        const res = await publish({ code: 'DELIVERY-1' });
        assert.equal(res.body.audience.connections, 3);
        const one = await t.api('GET', `/api/v1/codes/${res.body.code.id}`);
        assert.equal(one.status, 200, JSON.stringify(one.body));
        assert.deepEqual(one.body.code, { ...res.body.code, revokedAt: null });
        assert.equal(one.body.delivery.total, 3);
        assert.deepEqual(one.body.delivery.byTransport, { sse: 3, ws: 0, socketio: 0 });
        assert.equal(one.body.delivery.replayed, 0);
        assert.deepEqual(one.body.acks, { users: 0, medianMs: null, p99Ms: null });

        assertError(await t.api('GET', '/api/v1/codes/999999'), 404, 'code_not_found');
        assertError(await t.api('GET', `/api/v1/codes/${res.body.code.id}`, { token: alice.token }), 403, 'forbidden');
      });

      test('acks count once per user, with median and p99 latencies', async () => {
        const { id } = await t.publish('ACK-1');
        const first = await t.api('POST', `/api/v1/codes/${id}/ack`, { token: alice.token });
        assert.equal(first.status, 200, JSON.stringify(first.body));
        assert.equal(first.body.id, id);
        assert.equal(first.body.first, true);
        assert.ok(Number.isFinite(first.body.latencyMs) && first.body.latencyMs >= 0);

        // An empty JSON object is an acceptable body too.
        const second = await t.api('POST', `/api/v1/codes/${id}/ack`, { token: bob.token, body: {} });
        assert.equal(second.status, 200, JSON.stringify(second.body));
        assert.equal(second.body.first, true);

        const twice = await t.api('POST', `/api/v1/codes/${id}/ack`, { token: alice.token });
        assert.equal(twice.status, 200);
        assert.equal(twice.body.first, false);

        const figures = (await t.api('GET', `/api/v1/codes/${id}`)).body.acks;
        assert.equal(figures.users, 2);
        assert.equal(typeof figures.medianMs, 'number');
        assert.equal(typeof figures.p99Ms, 'number');
        assert.ok(figures.medianMs >= 0 && figures.medianMs <= figures.p99Ms);
        assert.ok([first.body.latencyMs, second.body.latencyMs].includes(figures.medianMs), 'the median is one of the recorded latencies');
        assert.equal(figures.p99Ms, Math.max(first.body.latencyMs, second.body.latencyMs));

        assertError(await t.api('POST', '/api/v1/codes/999999/ack', { token: alice.token }), 404, 'code_not_found');
        assertError(await t.api('POST', `/api/v1/codes/${id}/ack`, { token: alice.token, body: { extra: 1 } }), 400, 'invalid_request');
        assertError(await t.api('POST', `/api/v1/codes/${id}/ack`, { token: null }), 401, 'unauthorized');
      });
    });

    describe('audit', () => {
      test("every admin action appears in GET /audit with the actor's username", async () => {
        // A second admin does part of the work, so the actor is not always the same.
        const ops = await t.createUser('codes-ops', 'admin');
        const published = await t.api('POST', '/api/v1/codes', { token: ops.token, body: { code: 'AUDIT-1' } });
        assert.equal(published.status, 201);
        const id = published.body.code.id as number;
        assert.equal((await t.api('DELETE', `/api/v1/codes/${id}`)).status, 200);
        const token = await t.api('POST', '/api/v1/users/codes-alice/tokens', { token: ops.token, body: { label: 'audit' } });
        assert.equal(token.status, 201);
        assert.equal((await t.api('DELETE', `/api/v1/tokens/${token.body.token.id}`)).status, 200);
        assert.equal((await t.api('PATCH', '/api/v1/users/codes-bob', { token: ops.token, body: { role: 'user' } })).status, 200);
        assert.equal((await t.api('PUT', '/api/v1/settings', { token: ops.token, body: { defaultValue: null } })).status, 200);
        // Refused actions are not recorded.
        assert.equal((await t.api('DELETE', `/api/v1/codes/${id}`)).status, 409);

        const audit = await t.api('GET', '/api/v1/audit?limit=1000');
        assert.equal(audit.status, 200);
        const entries = audit.body.entries as {
          id: number;
          at: string;
          actor: string | null;
          action: string;
          target: string | null;
          details: unknown;
        }[];
        for (const entry of entries) {
          assert.deepEqual(Object.keys(entry).sort(), ['action', 'actor', 'at', 'details', 'id', 'target']);
          assert.ok(!Number.isNaN(Date.parse(entry.at)));
        }
        const ids = entries.map((e) => e.id);
        assert.deepEqual(
          ids,
          [...ids].sort((x, y) => y - x),
          'newest first',
        );
        const find = (action: string, target: string | null) => entries.find((e) => e.action === action && e.target === target);

        const expect: [string, string, string][] = [
          ['user.create', 'codes-ops', 'admin'],
          ['code.publish', String(id), 'codes-ops'],
          ['code.revoke', String(id), 'admin'],
          ['token.create', 'codes-alice', 'codes-ops'],
          ['token.revoke', String(token.body.token.id), 'admin'],
          ['user.update', 'codes-bob', 'codes-ops'],
        ];
        for (const [action, target, actor] of expect) {
          const entry = find(action, target);
          assert.ok(entry, `no ${action} of ${target} in the audit`);
          assert.equal(entry.actor, actor, `${action} of ${target}`);
        }
        const settings = entries.find((e) => e.action === 'settings.update' && e.actor === 'codes-ops');
        assert.ok(settings, 'settings.update by codes-ops');
        // The settings changes made earlier in this file are there too, by the first admin.
        assert.ok(entries.some((e) => e.action === 'settings.update' && e.actor === 'admin'));
        assert.equal(entries.filter((e) => e.action === 'code.revoke' && e.target === String(id)).length, 1);
        const actions = new Set(entries.map((e) => e.action));
        for (const action of [
          'code.publish',
          'code.revoke',
          'user.create',
          'user.update',
          'token.create',
          'token.revoke',
          'settings.update',
        ]) {
          assert.ok(actions.has(action), action);
        }

        const limited = await t.api('GET', '/api/v1/audit?limit=2');
        assert.equal(limited.body.entries.length, 2);
        const older = await t.api('GET', `/api/v1/audit?limit=2&before=${limited.body.entries[1].id}`);
        assert.ok(older.body.entries.every((e: { id: number }) => e.id < limited.body.entries[1].id));
        assertError(await t.api('GET', '/api/v1/audit', { token: alice.token }), 403, 'forbidden');
      });
    });
  });
}
