// The SSE stream protocol and its recovery guarantees (issue 2, point 6):
// framing, Last-Event-ID / ?since= replay without gaps or repeats, reset when
// history is exceeded, revoked and expired codes, connection caps, unsafe
// input, graceful stop and bad stream requests. Real server, real clients.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';
import { openEventSource, SseReader, waitFor } from './support/sse.js';
import {
  eventNames,
  publishMany,
  rawFrames,
  sleep,
  stats,
  uniqueCode,
  waitForConnections,
  withoutPings,
} from './support/sse-stream-helpers.js';

/** Readers opened by the running test; closed after each test so no handle outlives it. */
const open: SseReader[] = [];
async function openReader(url: string, options: Parameters<typeof SseReader.open>[1] = {}): Promise<SseReader> {
  const reader = await SseReader.open(url, options);
  open.push(reader);
  return reader;
}
afterEach(() => {
  for (const reader of open.splice(0)) reader.close();
});

const CODE_KEYS = ['code', 'expiresAt', 'id', 'message', 'publishedAt', 'source', 'type', 'value'];

describe('SSE framing, recovery and input (heartbeat 1 s)', () => {
  let t: TestServer;
  let user: { token: string };
  before(async () => {
    t = await startTestServer({ CODECAST_HEARTBEAT_SECONDS: '1' });
    user = await t.createUser('framing-user');
  });
  after(async () => {
    await t.stop();
  });

  test('the stream opens with retry, then hello; event-stream headers', async () => {
    const newest = await t.publish(uniqueCode('BEFORE'));
    const reader = await openReader(t.url, { token: user.token });
    assert.equal(reader.status, 200);
    assert.match(reader.headers?.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(reader.headers?.get('cache-control') ?? '', /\bno-cache\b/);
    await reader.waitForEvent('hello');

    const frames = rawFrames(reader);
    assert.equal(frames[0], 'retry: 3000', 'the first frame is the retry hint alone');
    assert.match(frames[1] ?? '', /^event: hello\ndata: \{.*\}$/, 'the second frame is hello, without an id line');

    const hello = withoutPings(reader)[0];
    assert.equal(hello?.event, 'hello');
    assert.equal(typeof hello.data.connectionId, 'string');
    assert.ok(hello.data.connectionId.length > 0);
    assert.equal(hello.data.lastId, newest.id, 'hello.lastId is the newest published id');
    assert.equal(hello.data.heartbeatSeconds, 1);
    // No since: nothing replayed even though a code exists.
    assert.deepEqual(reader.codeIds(), []);
  });

  test('every connection gets its own connection id', async () => {
    const a = await openReader(t.url, { token: user.token });
    const b = await openReader(t.url, { token: user.token });
    await a.waitForEvent('hello');
    await b.waitForEvent('hello');
    assert.notEqual(a.connectionId, b.connectionId);
  });

  test('a live code frame carries id: N equal to data.id and the full code object', async () => {
    const reader = await openReader(t.url, { token: user.token });
    await reader.waitForEvent('hello');
    const res = await t.api('POST', '/api/v1/codes', {
      body: { code: uniqueCode('FULL'), value: 3, type: 'drop', message: 'Enjoy', ttlSeconds: 3600, source: 'tests' },
    });
    assert.equal(res.status, 201);
    const published = res.body.code;
    await reader.waitForEvent('code');

    const [event] = reader.of('code');
    assert.equal(event?.id, String(published.id), 'the SSE id is the code id');
    assert.equal(event.data.id, published.id);
    assert.deepEqual(Object.keys(event.data).sort(), CODE_KEYS);
    assert.deepEqual(event.data, published, 'the delivered code is the published code');
    assert.equal(event.data.value, 3);
    assert.equal(event.data.type, 'drop');
    assert.equal(event.data.message, 'Enjoy');
    assert.equal(event.data.source, 'tests');
    assert.ok(!Number.isNaN(Date.parse(event.data.publishedAt)));
    assert.ok(Date.parse(event.data.expiresAt) > Date.parse(event.data.publishedAt));

    const frame = rawFrames(reader).find((f) => f.startsWith(`id: ${published.id}\n`));
    assert.ok(frame, 'a raw frame starts with the id line');
    const lines = frame.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[1], 'event: code');
    assert.ok(lines[2]?.startsWith('data: '));
    assert.deepEqual(JSON.parse((lines[2] as string).slice('data: '.length)), published);
  });

  test('DELETE /codes/:id sends revoke {id} to the open stream', async () => {
    const reader = await openReader(t.url, { token: user.token });
    await reader.waitForEvent('hello');
    const { id } = await t.publish(uniqueCode('REV'));
    await reader.waitForEvent('code');
    const res = await t.api('DELETE', `/api/v1/codes/${id}`);
    assert.equal(res.status, 200);
    await reader.waitForEvent('revoke');
    const [revoke] = reader.of('revoke');
    assert.deepEqual(revoke?.data, { id });
    assert.equal(revoke.id, undefined, 'revoke carries no SSE id (it must not move Last-Event-ID)');
    assert.deepEqual(eventNames(reader), ['hello', 'code', 'revoke']);
  });

  test('ping heartbeats arrive every CODECAST_HEARTBEAT_SECONDS, without an id', async () => {
    const reader = await openReader(t.url, { token: user.token });
    await reader.waitForEvent('ping', 2, 5000);
    for (const ping of reader.of('ping')) {
      assert.equal(typeof ping.data.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(ping.data.time)), 'ping.time is a date');
      assert.equal(ping.id, undefined);
    }
    assert.ok(!reader.ended);
  });

  test('reconnecting with Last-Event-ID gives exactly the missed codes in order, then live codes', async () => {
    const first = await openReader(t.url, { token: user.token });
    await first.waitForEvent('hello');
    const seen = await publishMany(t, 3, 'LEI');
    await first.waitForEvent('code', 3);
    assert.deepEqual(first.codeIds(), seen);
    const lastSeen = first.of('code').at(-1)?.id;
    assert.equal(lastSeen, String(seen.at(-1)));
    first.close();
    await waitForConnections(t, 0);

    const missed = await publishMany(t, 4, 'LEI');
    const second = await openReader(t.url, { token: user.token, lastEventId: lastSeen });
    await second.waitForEvent('code', missed.length);
    const live = await publishMany(t, 2, 'LEI');
    await second.waitForEvent('code', missed.length + live.length);

    assert.deepEqual(second.codeIds(), [...missed, ...live], 'missed codes, then live, no gap, no repeat');
    assert.deepEqual(eventNames(second), ['hello', ...Array(missed.length + live.length).fill('code')]);
    assert.deepEqual(
      second.of('code').map((e) => e.id),
      [...missed, ...live].map(String),
    );
  });

  test('reconnecting with ?since= behaves the same', async () => {
    const first = await openReader(t.url, { token: user.token });
    await first.waitForEvent('hello');
    const seen = await publishMany(t, 2, 'SINCE');
    await first.waitForEvent('code', 2);
    const lastSeen = first.codeIds().at(-1) as number;
    first.close();
    await waitForConnections(t, 0);

    const missed = await publishMany(t, 3, 'SINCE');
    const second = await openReader(t.url, { token: user.token, since: lastSeen });
    await second.waitForEvent('code', missed.length);
    const live = await publishMany(t, 2, 'SINCE');
    await second.waitForEvent('code', missed.length + live.length);

    assert.deepEqual(second.codeIds(), [...missed, ...live]);
    assert.ok(!second.codeIds().some((id) => seen.includes(id)), 'nothing already seen comes again');
    assert.deepEqual(eventNames(second), ['hello', ...Array(missed.length + live.length).fill('code')]);
  });

  test('Last-Event-ID wins over ?since=', async () => {
    const ids = await publishMany(t, 3, 'WINS');
    const reader = await openReader(t.url, { token: user.token, since: (ids[0] as number) - 1, lastEventId: ids[1] as number });
    await reader.waitForEvent('hello');
    const sentinel = await t.publish(uniqueCode('WINS'));
    await reader.waitForEvent('code', 2);
    assert.deepEqual(reader.codeIds(), [ids[2], sentinel.id]);
  });

  test('several tabs of one user each receive every code', async () => {
    const tabsUser = await t.createUser('tabs-user');
    const tabs = await Promise.all([1, 2, 3].map(() => openReader(t.url, { token: tabsUser.token })));
    const other = await openReader(t.url, { token: user.token });
    for (const reader of [...tabs, other]) await reader.waitForEvent('hello');
    assert.equal(new Set(tabs.map((r) => r.connectionId)).size, 3);
    const ids = await publishMany(t, 3, 'TABS');
    for (const reader of [...tabs, other]) {
      await reader.waitForEvent('code', 3);
      assert.deepEqual(reader.codeIds(), ids);
    }
  });

  test('revoked codes are not replayed', async () => {
    const live = await openReader(t.url, { token: user.token });
    await live.waitForEvent('hello');
    const [a, b, c] = (await publishMany(t, 3, 'NOREPLAY')) as [number, number, number];
    assert.equal((await t.api('DELETE', `/api/v1/codes/${b}`)).status, 200);
    await live.waitForEvent('revoke');
    assert.deepEqual(live.codeIds(), [a, b, c], 'it was delivered live before the revoke');

    const replay = await openReader(t.url, { token: user.token, since: a - 1 });
    await replay.waitForEvent('hello');
    const sentinel = await t.publish(uniqueCode('NOREPLAY'));
    await replay.waitForEvent('code', 3);
    assert.deepEqual(replay.codeIds(), [a, c, sentinel.id]);

    const history = await t.api('GET', `/api/v1/codes?since=${a - 1}`, { token: user.token });
    assert.equal(history.status, 200);
    assert.deepEqual(
      history.body.codes.map((code: { id: number }) => code.id),
      [a, c, sentinel.id],
    );
  });

  test('expired codes are not replayed and not listed', async () => {
    const live = await openReader(t.url, { token: user.token });
    await live.waitForEvent('hello');
    const res = await t.api('POST', '/api/v1/codes', { body: { code: uniqueCode('TTL'), ttlSeconds: 1 } });
    assert.equal(res.status, 201);
    const expiring = res.body.code;
    assert.ok(expiring.expiresAt !== null);
    const lasting = await t.publish(uniqueCode('TTL'));
    await live.waitForEvent('code', 2);
    assert.deepEqual(live.codeIds(), [expiring.id, lasting.id], 'delivered live while valid');

    // Before expiry it is replayed and listed: what follows is the expiry's doing.
    const early = await openReader(t.url, { token: user.token, since: expiring.id - 1 });
    await early.waitForEvent('code', 2);
    assert.deepEqual(early.codeIds(), [expiring.id, lasting.id]);
    const listedEarly = await t.api('GET', `/api/v1/codes?since=${expiring.id - 1}`, { token: user.token });
    assert.deepEqual(
      listedEarly.body.codes.map((code: { id: number }) => code.id),
      [expiring.id, lasting.id],
    );

    const waitMs = Date.parse(expiring.expiresAt) - Date.now() + 50;
    if (waitMs > 0) await sleep(waitMs);

    const late = await openReader(t.url, { token: user.token, since: expiring.id - 1 });
    await late.waitForEvent('hello');
    const sentinel = await t.publish(uniqueCode('TTL'));
    await late.waitForEvent('code', 2);
    assert.deepEqual(late.codeIds(), [lasting.id, sentinel.id]);

    const listed = await t.api('GET', `/api/v1/codes?since=${expiring.id - 1}`, { token: user.token });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.codes.map((code: { id: number }) => code.id),
      [lasting.id, sentinel.id],
    );
  });

  test('a code with a newline or control character is refused; the open stream is unaffected', async () => {
    const reader = await openReader(t.url, { token: user.token });
    await reader.waitForEvent('hello');
    for (const bad of ['BAD\nCODE', 'BAD\rCODE', 'BAD\u0007CODE', 'BAD\u0000CODE', 'BAD\u2028CODE', '   ']) {
      const res = await t.api('POST', '/api/v1/codes', { body: { code: bad } });
      assert.equal(res.status, 400, `code ${JSON.stringify(bad)}`);
      assert.equal(res.body.error, 'invalid_code');
      assert.equal(res.body.field, 'code');
    }

    const res = await t.api('POST', '/api/v1/codes', { body: { code: uniqueCode('OK'), message: 'line1\nline2' } });
    assert.equal(res.status, 201);
    const published = res.body.code;
    assert.equal(published.message, 'line1\nline2');
    await reader.waitForEvent('code');
    assert.ok(!reader.ended, 'the stream is still open');
    assert.deepEqual(reader.codeIds(), [published.id], 'only the valid code arrived');
    assert.deepEqual(reader.of('code')[0]?.data, published, 'intact');

    const frame = rawFrames(reader).find((f) => f.startsWith(`id: ${published.id}\n`));
    assert.ok(frame);
    const lines = frame.split('\n');
    assert.equal(lines.length, 3, 'id, event and ONE data line');
    const dataLine = lines[2] as string;
    assert.ok(dataLine.startsWith('data: '));
    assert.ok(dataLine.includes('"line1\\nline2"'), 'the newline travels escaped inside the JSON');
    assert.equal(JSON.parse(dataLine.slice('data: '.length)).message, 'line1\nline2');
  });

  test('bad stream requests are refused', async () => {
    const sinceAbc = await openReader(t.url, { token: user.token, query: 'since=abc' });
    assert.equal(sinceAbc.status, 400);
    assert.equal(sinceAbc.events[0]?.data.error, 'invalid_request');

    const sinceNegative = await openReader(t.url, { token: user.token, query: 'since=-1' });
    assert.equal(sinceNegative.status, 400);
    assert.equal(sinceNegative.events[0]?.data.error, 'invalid_request');

    const badLastEventId = await openReader(t.url, { token: user.token, lastEventId: 'x' });
    assert.equal(badLastEventId.status, 400);
    assert.equal(badLastEventId.events[0]?.data.error, 'invalid_request');

    const noToken = await openReader(t.url, {});
    assert.equal(noToken.status, 401);
    assert.equal(noToken.events[0]?.data.error, 'unauthorized');

    const unknownToken = await openReader(t.url, { token: 'cc_no-such-token-0123456789abcdefghij' });
    assert.equal(unknownToken.status, 401);
    assert.equal(unknownToken.events[0]?.data.error, 'unauthorized');

    const unknownQueryToken = await openReader(t.url, { query: 'token=cc_no-such-token-in-the-query-0123456' });
    assert.equal(unknownQueryToken.status, 401);
    assert.equal(unknownQueryToken.events[0]?.data.error, 'unauthorized');

    for (const refused of [sinceAbc, sinceNegative, badLastEventId, noToken, unknownToken, unknownQueryToken]) {
      assert.deepEqual(
        refused.events.map((e) => e.event),
        ['http-error'],
        'no stream was opened',
      );
    }
    // None of them left a connection behind.
    await waitForConnections(t, 0);
  });
});

describe('SSE reset when history is exceeded (CODECAST_HISTORY=5)', () => {
  let t: TestServer;
  let user: { token: string };
  before(async () => {
    t = await startTestServer({ CODECAST_HISTORY: '5' });
    user = await t.createUser('reset-user');
  });
  after(async () => {
    await t.stop();
  });

  test('since older than history: reset (oldestId = oldest held) first, then the 5 held codes in order', async () => {
    const ids = await publishMany(t, 8, 'RESET');
    const reader = await openReader(t.url, { token: user.token, since: ids[0] });
    await reader.waitForEvent('code', 5);
    const sentinel = await t.publish(uniqueCode('RESET'));
    await reader.waitForEvent('code', 6);

    assert.deepEqual(eventNames(reader), ['hello', 'reset', 'code', 'code', 'code', 'code', 'code', 'code']);
    const [hello, reset] = withoutPings(reader);
    assert.equal(hello?.data.lastId, ids[7]);
    assert.deepEqual(reset?.data, { oldestId: ids[3], lastId: ids[7] });
    assert.deepEqual(reader.codeIds(), [...ids.slice(3), sentinel.id]);
  });

  test('a Last-Event-ID older than history gets the same reset', async () => {
    const ids = await publishMany(t, 8, 'RESETLEI');
    const reader = await openReader(t.url, { token: user.token, lastEventId: ids[1] as number });
    await reader.waitForEvent('code', 5);
    assert.deepEqual(
      reader.of('reset').map((e) => e.data),
      [{ oldestId: ids[3], lastId: ids[7] }],
    );
    assert.deepEqual(reader.codeIds(), ids.slice(3));
  });

  test('since equal to the last id no longer held: complete replay, no reset', async () => {
    const ids = await publishMany(t, 8, 'EDGE');
    const reader = await openReader(t.url, { token: user.token, since: ids[2] });
    await reader.waitForEvent('code', 5);
    const sentinel = await t.publish(uniqueCode('EDGE'));
    await reader.waitForEvent('code', 6);
    assert.deepEqual(eventNames(reader), ['hello', 'code', 'code', 'code', 'code', 'code', 'code']);
    assert.deepEqual(reader.codeIds(), [...ids.slice(3), sentinel.id]);
  });

  test('since equal to the newest id: nothing replayed, no reset', async () => {
    const ids = await publishMany(t, 8, 'NEWEST');
    const reader = await openReader(t.url, { token: user.token, since: ids[7] });
    await reader.waitForEvent('hello');
    const sentinel = await t.publish(uniqueCode('NEWEST'));
    await reader.waitForEvent('code');
    assert.deepEqual(eventNames(reader), ['hello', 'code']);
    assert.deepEqual(reader.codeIds(), [sentinel.id]);
  });

  test('a brand-new client without since gets no replay', async () => {
    const ids = await publishMany(t, 8, 'FRESH');
    const reader = await openReader(t.url, { token: user.token });
    await reader.waitForEvent('hello');
    assert.equal(withoutPings(reader)[0]?.data.lastId, ids[7]);
    const sentinel = await t.publish(uniqueCode('FRESH'));
    await reader.waitForEvent('code');
    assert.deepEqual(eventNames(reader), ['hello', 'code']);
    assert.deepEqual(reader.codeIds(), [sentinel.id]);
  });
});

describe('SSE global cap (CODECAST_MAX_CONNECTIONS=2)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_MAX_CONNECTIONS: '2' });
  });
  after(async () => {
    await t.stop();
  });

  test('the third stream gets 503 server_full with Retry-After; closing one frees a slot', async () => {
    const [a, b, c] = await Promise.all(['cap-a', 'cap-b', 'cap-c'].map((name) => t.createUser(name)));
    const first = await openReader(t.url, { token: a!.token });
    const second = await openReader(t.url, { token: b!.token });
    await first.waitForEvent('hello');
    await second.waitForEvent('hello');

    const third = await openReader(t.url, { token: c!.token });
    assert.equal(third.status, 503);
    assert.match(third.headers?.get('content-type') ?? '', /^application\/json/);
    assert.equal(third.events[0]?.data.error, 'server_full');
    assert.equal(typeof third.events[0]?.data.message, 'string');
    const retryAfter = third.headers?.get('retry-after');
    assert.match(retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After is a positive number of seconds');
    assert.equal(t.server.hub.stats().connections, 2);

    // The streams already open are unaffected.
    const { id } = await t.publish(uniqueCode('CAP'));
    await first.waitForEvent('code');
    await second.waitForEvent('code');
    assert.deepEqual(first.codeIds(), [id]);

    first.close();
    await waitForConnections(t, 1);
    const again = await openReader(t.url, { token: c!.token });
    assert.equal(again.status, 200);
    await again.waitForEvent('hello');
  });
});

describe('SSE per-user cap (CODECAST_MAX_CONNECTIONS_PER_USER=2)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_MAX_CONNECTIONS_PER_USER: '2' });
  });
  after(async () => {
    await t.stop();
  });

  test("a user's third stream gets 429; another user still connects; closing one frees a slot", async () => {
    const alice = await t.createUser('alice');
    const bob = await t.createUser('bob');
    const a1 = await openReader(t.url, { token: alice.token });
    const a2 = await openReader(t.url, { token: alice.token });
    await a1.waitForEvent('hello');
    await a2.waitForEvent('hello');

    const a3 = await openReader(t.url, { token: alice.token });
    assert.equal(a3.status, 429);
    assert.equal(a3.events[0]?.data.error, 'too_many_connections_for_user');
    assert.match(a3.headers?.get('retry-after') ?? '', /^[1-9]\d*$/);

    const b1 = await openReader(t.url, { token: bob.token });
    assert.equal(b1.status, 200);
    await b1.waitForEvent('hello');

    a1.close();
    await waitForConnections(t, 2);
    const a4 = await openReader(t.url, { token: alice.token });
    assert.equal(a4.status, 200);
    await a4.waitForEvent('hello');

    const { id } = await t.publish(uniqueCode('PERUSER'));
    for (const reader of [a2, a4, b1]) {
      await reader.waitForEvent('code');
      assert.deepEqual(reader.codeIds(), [id]);
    }
  });
});

describe('EventSource recovers by itself after a stale close (sweep 1 s, stale 2 s)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      CODECAST_SWEEP_SECONDS: '1',
      CODECAST_STALE_SECONDS: '2',
      CODECAST_HEARTBEAT_SECONDS: '1',
      CODECAST_PONG_INTERVAL_SECONDS: '0',
      // The reconnect delay EventSource takes from `retry:`: long enough to publish while it is away.
      CODECAST_SSE_RETRY_MS: '1500',
    });
  });
  after(async () => {
    await t.stop();
  });

  test('it reconnects with Last-Event-ID and ends with every code exactly once, in order', async () => {
    const ponger = await t.createUser('es-ponger');
    const quiet = await t.createUser('es-quiet');
    // A reader that never pongs is never stale: it stays through every sweep and sees everything live.
    const control = await openReader(t.url, { token: quiet.token });
    await control.waitForEvent('hello');

    const { source, events } = openEventSource(t.url, ponger.token);
    const errors: unknown[] = [];
    source.addEventListener('error', (event) => errors.push(event));
    try {
      const hellos = () => events.filter((e) => e.event === 'hello');
      const codeIds = () => events.filter((e) => e.event === 'code').map((e) => e.data.id as number);
      await waitFor(() => hellos().length === 1, 'the first hello');

      const before = await publishMany(t, 2, 'ES');
      await waitFor(() => codeIds().length === 2, 'two live codes');

      // One pong, then silence: the sweeper closes it as stale.
      const connectionId = hellos()[0]?.data.connectionId;
      const pong = await t.api('POST', `/api/v1/stream/${connectionId}/pong`, { token: ponger.token });
      assert.equal(pong.status, 204);
      await waitFor(() => errors.length >= 1, 'EventSource to see its stream cut', 6000);
      assert.equal(source.readyState, source.CONNECTING, 'it is reconnecting, not failed');

      // Published while it is away: only the control reader is connected.
      const whileAway: number[] = [];
      for (let i = 0; i < 3; i++) {
        const published = await t.publish(uniqueCode('ES-AWAY'));
        assert.equal(published.audience, 1, 'the EventSource is away when this is published');
        whileAway.push(published.id);
      }

      await waitFor(() => hellos().length === 2, 'EventSource to reconnect', 6000);
      await waitFor(() => codeIds().length === 5, 'the missed codes', 3000);
      assert.notEqual(hellos()[1]?.data.connectionId, connectionId, 'a new connection');

      const after = await publishMany(t, 2, 'ES');
      await waitFor(() => codeIds().length === 7, 'live codes after recovery');

      const all = [...before, ...whileAway, ...after];
      assert.deepEqual(codeIds(), all, 'every code exactly once, in order');
      assert.deepEqual(
        events.filter((e) => e.event === 'code').map((e) => e.id),
        all.map(String),
      );
      assert.equal(events.filter((e) => e.event === 'reset').length, 0);

      const s = await stats(t);
      assert.equal(s.closes.stale, 1, 'closed once, as stale');
      assert.equal(s.deliveries.replayed, whileAway.length, 'the missed codes came by replay');

      await control.waitForEvent('code', all.length);
      assert.deepEqual(control.codeIds(), all);
      assert.ok(!control.ended, 'the reader that never ponged was never closed');
      assert.equal(control.of('hello').length, 1);
    } finally {
      source.close();
    }
  });
});

describe('graceful stop', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_SHUTDOWN_RECONNECT_MS: '1234' });
  });
  after(async () => {
    await t.stop();
  });

  test('stopping sends shutdown (with a retry line) to every open stream and ends it', async () => {
    const u1 = await t.createUser('stop-one');
    const u2 = await t.createUser('stop-two');
    const readers = [
      await openReader(t.url, { token: u1.token }),
      await openReader(t.url, { token: u1.token }),
      await openReader(t.url, { token: u2.token }),
    ];
    for (const reader of readers) await reader.waitForEvent('hello');

    await t.stop();

    for (const reader of readers) {
      await reader.waitForEnd();
      assert.equal(reader.error, undefined, 'the stream ended cleanly, not cut');
      const shutdowns = reader.of('shutdown');
      assert.equal(shutdowns.length, 1);
      assert.deepEqual(shutdowns[0]?.data, { reconnectAfterMs: 1234 });
      assert.equal(reader.events.at(-1)?.event, 'shutdown', 'shutdown is the last thing said');
      const frames = rawFrames(reader);
      assert.equal(frames.at(-1), 'retry: 1234\nevent: shutdown\ndata: {"reconnectAfterMs":1234}');
    }
  });
});
