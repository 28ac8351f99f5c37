/**
 * GET /metrics after known activity: the Prometheus text parses, and every
 * figure matches what was done (connections by transport, opens and closes
 * by reason, publishes, deliveries, fan-out and ack histograms, the user
 * cache, database queries, process metrics). Also the optional bearer token
 * and that every codecast_* metric is documented in the README.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connectSubscriber, type Subscriber } from './support/clients.js';
import { backend, nowSeconds, sign } from './support/jwt.js';
import { parsePrometheus, type Scrape } from './support/prometheus.js';
import { WsRecorder } from './support/raw-clients.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

const README = new URL('../README.md', import.meta.url);

async function scrape(t: TestServer, token?: string): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`${t.url}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** Checks a histogram's buckets are cumulative and end in +Inf = _count; answers _count. */
function histogramCount(m: Scrape, name: string): number {
  const buckets = m.find(`${name}_bucket`);
  assert.ok(buckets.length >= 2, `${name} has buckets`);
  const bounds = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
  assert.deepEqual(
    bounds,
    [...bounds].sort((a, b) => a - b),
    `${name} buckets in increasing le order`,
  );
  assert.equal(bounds.at(-1), Infinity, `${name} ends with le="+Inf"`);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name} buckets are cumulative`);
  }
  const count = m.value(`${name}_count`);
  assert.equal(buckets.at(-1)!.value, count, `${name}: the +Inf bucket equals _count`);
  assert.ok(m.value(`${name}_sum`) >= 0, `${name}_sum is not negative`);
  return count;
}

describe('GET /metrics after known activity', () => {
  let t: TestServer;
  const subscribers: Subscriber[] = [];
  let mute: WsRecorder | undefined;
  let m: Scrape;
  let raw: { status: number; contentType: string | null; text: string };
  let statsAfter: any;
  const published: number[] = [];

  before(async () => {
    t = await startTestServer({
      CODECAST_HEARTBEAT_SECONDS: '1',
      CODECAST_SWEEP_SECONDS: '1',
      CODECAST_STALE_SECONDS: '2',
      CODECAST_PONG_INTERVAL_SECONDS: '1',
    });
    const alice = await t.createUser('alice');
    const bob = await t.createUser('bob');
    const carol = await t.createUser('carol');
    const dave = await t.createUser('dave');
    const erin = await t.createUser('erin');

    // One at a time, so every first authentication of a token is exactly one cache miss.
    const alice1 = await connectSubscriber('sse', t.url, { token: alice.token });
    const alice2 = await connectSubscriber('sse', t.url, { token: alice.token });
    const bobWs = await connectSubscriber('ws', t.url, { token: bob.token });
    const carolIo = await connectSubscriber('socketio', t.url, { token: carol.token });
    const daveSse = await connectSubscriber('sse', t.url, { token: dave.token });
    subscribers.push(alice1, alice2, bobWs, carolIo, daveSse);
    for (const s of subscribers) assert.equal(s.status, 'open', `${s.transport} subscriber is open`);

    // A WebSocket client that answers no protocol ping: closed as stale by the sweeper.
    mute = await WsRecorder.open(`${t.url.replace(/^http/, 'ws')}/api/v1/ws?token=${erin.token}`, { autoPong: false });
    await mute.waitFor('hello');
    assert.deepEqual(await mute.waitForClose(10_000), { code: 4408, reason: 'stale' });

    // Disabling dave closes his stream as user_disabled.
    const disabled = await t.api('PATCH', '/api/v1/users/dave', { body: { disabled: true } });
    assert.equal(disabled.status, 200);
    await daveSse.waitForEnd();

    for (const code of ['MET-ONE', 'MET-TWO', 'MET-THREE']) published.push((await t.publish(code)).id);
    const live = [alice1, alice2, bobWs, carolIo];
    await Promise.all(live.map((s) => s.waitForCodes(3)));
    assert.equal(daveSse.codes.length, 0, 'the disabled user got nothing');

    // One first ack (and a repeat, which must not count again).
    const ack = await alice1.ack(published[0]!);
    assert.equal(ack.first, true);
    const again = await alice2.ack(published[0]!);
    assert.equal(again.first, false);

    // An unknown token, twice: a miss that lands in the negative cache, then a negative hit.
    for (let i = 0; i < 2; i++) {
      const res = await t.api('GET', '/api/v1/me', { token: 'cc_not-a-real-token-000000000000000000000000' });
      assert.equal(res.status, 401);
    }

    raw = await scrape(t);
    m = parsePrometheus(raw.text);
    statsAfter = (await t.api('GET', '/api/v1/stats')).body;
  });

  after(async () => {
    mute?.end();
    for (const s of subscribers) await s.close();
    await t?.stop();
  });

  test('answers Prometheus text that parses, every codecast family with HELP and TYPE', () => {
    assert.equal(raw.status, 200);
    assert.match(raw.contentType ?? '', /^text\/plain; version=0\.0\.4/);
    const ours = [...m.families.values()].filter((f) => f.name.startsWith('codecast_'));
    assert.ok(ours.length >= 15, `codecast families: ${ours.map((f) => f.name).join(', ')}`);
    for (const f of ours) {
      assert.ok(f.type, `${f.name} has a TYPE`);
      assert.ok(f.help && f.help.length > 5, `${f.name} has a HELP text`);
      if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`);
    }
    // No sample outside a declared family.
    for (const s of m.samples.filter((x) => x.name.startsWith('codecast_'))) {
      const base = s.name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(m.families.get(s.name)?.type || m.families.get(base)?.type, `sample ${s.name} belongs to a typed family`);
    }
  });

  test('open connections by transport and users online', () => {
    assert.equal(m.value('codecast_connections', { transport: 'sse' }), 2);
    assert.equal(m.value('codecast_connections', { transport: 'ws' }), 1);
    assert.equal(m.value('codecast_connections', { transport: 'socketio' }), 1);
    assert.equal(m.value('codecast_users_online'), 3);
    assert.ok(m.value('codecast_queued_bytes') >= 0);
  });

  test('connections opened by transport, closed by transport and reason', () => {
    assert.equal(m.value('codecast_connections_opened_total', { transport: 'sse' }), 3);
    assert.equal(m.value('codecast_connections_opened_total', { transport: 'ws' }), 2);
    assert.equal(m.value('codecast_connections_opened_total', { transport: 'socketio' }), 1);
    assert.equal(m.value('codecast_connections_closed_total', { transport: 'sse', reason: 'user_disabled' }), 1);
    assert.equal(m.value('codecast_connections_closed_total', { transport: 'ws', reason: 'stale' }), 1);
    assert.equal(m.sum('codecast_connections_closed_total'), 2, 'no other close was counted');
    assert.equal(m.value('codecast_stale_closes_total'), 1);
    assert.equal(m.value('codecast_slow_consumer_closes_total'), 0);
  });

  test('codes published, deliveries by transport and kind, fan-out histogram', () => {
    assert.equal(m.value('codecast_codes_published_total'), 3);
    assert.equal(m.value('codecast_deliveries_total', { transport: 'sse', kind: 'live' }), 6, '3 codes to 2 SSE streams');
    assert.equal(m.value('codecast_deliveries_total', { transport: 'ws', kind: 'live' }), 3);
    assert.equal(m.value('codecast_deliveries_total', { transport: 'socketio', kind: 'live' }), 3);
    assert.equal(m.sum('codecast_deliveries_total', { kind: 'replay' }), 0);
    assert.equal(histogramCount(m, 'codecast_fanout_duration_seconds'), 3);
  });

  test('publish-to-ack histogram counts first acks only', () => {
    assert.equal(histogramCount(m, 'codecast_publish_to_ack_seconds'), 1);
    assert.equal(m.value('codecast_acks_total'), 1);
  });

  test('user cache size, negative size, hits and misses', () => {
    // admin, alice, bob, carol, erin (dave was evicted when disabled).
    assert.equal(m.value('codecast_user_cache_entries'), 5);
    assert.equal(m.value('codecast_user_cache_negative_entries'), 1);
    // First use of each of the 6 user tokens, the admin's, and the unknown one.
    assert.equal(m.value('codecast_user_cache_misses_total'), 7);
    const hits = m.value('codecast_user_cache_hits_total');
    assert.ok(hits >= 3, `hits (${hits}): alice's second stream, her acks, the admin's repeated calls, the negative hit`);
    // The same figures as /stats, which was read after the scrape with one more (cached) admin authentication.
    const cache = statsAfter.userCache;
    assert.equal(cache.misses, 7);
    assert.equal(cache.hits + cache.negativeHits, hits + 1);
    assert.equal(cache.negativeHits, 1);
  });

  test('database query duration and the process default metrics', () => {
    const queries = histogramCount(m, 'codecast_db_query_duration_seconds');
    assert.ok(queries > 0, 'queries were timed');
    assert.ok(
      queries <= statsAfter.database.queries,
      `timed queries (${queries}) <= queries counted in stats (${statsAfter.database.queries})`,
    );
    assert.ok(m.value('process_resident_memory_bytes') > 1_000_000);
    assert.ok(m.value('process_cpu_seconds_total') > 0);
    assert.ok(m.find('nodejs_heap_size_used_bytes').length === 1);
    assert.ok(m.families.get('nodejs_eventloop_lag_seconds'), 'event loop lag is exported');
  });

  test('closing streams shows up as client_closed and the gauges go back down', async () => {
    const [alice1, alice2] = subscribers;
    await alice1!.close();
    await alice2!.close();
    await waitFor(() => (t.server.stats() as any).connections.byTransport.sse === 0, 'the SSE streams to be gone');
    const now = parsePrometheus((await scrape(t)).text);
    assert.equal(now.value('codecast_connections', { transport: 'sse' }), 0);
    assert.equal(now.value('codecast_connections_closed_total', { transport: 'sse', reason: 'client_closed' }), 2);
    assert.equal(now.value('codecast_users_online'), 2);
  });

  test('every codecast_* metric is documented in the README, and the README lists no metric that does not exist', () => {
    const readme = readFileSync(README, 'utf8');
    const documented = new Set(readme.match(/\bcodecast_[a-z0-9_]+/g) ?? []);
    const exported = [...m.families.keys()].filter((name) => name.startsWith('codecast_'));
    const missing = exported.filter((name) => !documented.has(name));
    assert.deepEqual(missing, [], `metrics missing from README.md: ${missing.join(', ')}`);
    const unknown = [...documented].filter((name) => !m.families.has(name));
    assert.deepEqual(unknown, [], `README.md documents metrics that are not exported: ${unknown.join(', ')}`);
  });
});

describe('JWT figures in /metrics and /api/v1/stats', () => {
  const hs = backend('HS256');
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ...hs.env, CODECAST_JWT_AUDIENCE: 'codecast' });
  });
  after(async () => {
    await t?.stop();
  });

  test('signature checks by outcome, answers without one, and tokens remembered', async () => {
    const me = (token: string) => t.api('GET', '/api/v1/me', { token });
    const good = await hs.mint('jwt-metrics', { aud: 'codecast' });
    const old = await hs.mint('jwt-metrics', { aud: 'codecast', exp: nowSeconds() - 600 });
    const forged = await sign(
      { sub: 'jwt-metrics', aud: 'codecast', exp: nowSeconds() + 60 },
      'HS256',
      new TextEncoder().encode('z'.repeat(40)),
    );
    // Each twice: the second of the good and the expired one needs no signature check.
    for (const [token, status] of [
      [good, 200],
      [old, 401],
      [forged, 401],
    ] as const) {
      assert.equal((await me(token)).status, status);
      assert.equal((await me(token)).status, status);
    }
    const m = parsePrometheus((await scrape(t)).text);
    assert.equal(m.value('codecast_jwt_verifications_total', { outcome: 'accepted' }), 1);
    assert.equal(m.value('codecast_jwt_verifications_total', { outcome: 'expired' }), 1);
    assert.equal(m.value('codecast_jwt_verifications_total', { outcome: 'refused' }), 2, 'a forged token is checked every time');
    assert.equal(m.value('codecast_jwt_cache_hits_total'), 2);
    assert.equal(m.value('codecast_jwt_cached'), 1);
    const stats = (await t.api('GET', '/api/v1/stats')).body;
    assert.deepEqual(stats.jwt, { verifications: { accepted: 1, expired: 1, refused: 2 }, cacheHits: 2, cached: 1 });
  });

  test('without a JWT key the series read 0 and /api/v1/stats says null', async () => {
    const plain = await startTestServer();
    try {
      const m = parsePrometheus((await scrape(plain)).text);
      assert.equal(m.sum('codecast_jwt_verifications_total'), 0);
      assert.equal(m.find('codecast_jwt_verifications_total').length, 3, 'one series per outcome');
      assert.equal(m.value('codecast_jwt_cache_hits_total'), 0);
      assert.equal((await plain.api('GET', '/api/v1/stats')).body.jwt, null);
    } finally {
      await plain.stop();
    }
  });
});

describe('GET /metrics with CODECAST_METRICS_TOKEN', () => {
  const SECRET = 'scrape-secret-4f1c2a9e7b';
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ CODECAST_METRICS_TOKEN: SECRET });
  });
  after(async () => {
    await t?.stop();
  });

  test('without the token: 401 JSON in the error catalog shape', async () => {
    const res = await scrape(t);
    assert.equal(res.status, 401);
    assert.match(res.contentType ?? '', /application\/json/);
    const body = JSON.parse(res.text);
    assert.equal(body.error, 'unauthorized');
    assert.equal(typeof body.message, 'string');
    assert.doesNotMatch(res.text, /codecast_connections/);
  });

  test('a wrong token, or an admin API token, is refused too', async () => {
    assert.equal((await scrape(t, 'scrape-secret-wrong')).status, 401);
    assert.equal((await scrape(t, `${SECRET}x`)).status, 401);
    assert.equal((await scrape(t, ADMIN_TOKEN)).status, 401);
    const basic = await fetch(`${t.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`x:${SECRET}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    await basic.text();
  });

  test('with the token: 200 and the metrics', async () => {
    const res = await scrape(t, SECRET);
    assert.equal(res.status, 200);
    const parsed = parsePrometheus(res.text);
    assert.equal(parsed.value('codecast_connections', { transport: 'sse' }), 0);
    assert.ok(parsed.value('process_resident_memory_bytes') > 0);
  });
});
