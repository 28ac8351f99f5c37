// Clients written for the replaced service (Flask-SocketIO; docs/MIGRATING.md)
// run against codecast with one change, a token (issue 13): they connect to
// `/events` with `query: {username}`, wait for `connected`, emit `subscribe`,
// wait for `subscribed` and listen for `new_code` — as the replaced
// service's own test page and test script did. A username alone is refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { errorCatalog } from '../src/domain/errors.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

/** What an old client saw, in arrival order: [event, data]. */
type Seen = [string, any][];

/**
 * The replaced service's `/events` listener, as its test page wrote it
 * (`io(url + '/events', {query: {username}})`, `subscribe` on connect),
 * with the token added to the query: the smallest change that makes it work.
 */
function oldListener(url: string, namespace: '/' | '/events', query: Record<string, string>): { socket: Socket; seen: Seen } {
  const seen: Seen = [];
  const socket = io(`${url}${namespace === '/' ? '' : namespace}`, {
    query,
    transports: ['polling', 'websocket'],
    reconnection: false,
    forceNew: true,
  });
  socket.on('connect', () => socket.emit('subscribe'));
  for (const event of ['connected', 'subscribed', 'new_code', 'error']) socket.on(event, (data) => seen.push([event, data]));
  socket.on('connect_error', (err: Error & { data?: unknown }) => seen.push(['connect_error', err.data]));
  return { socket, seen };
}

const names = (seen: Seen) => seen.map(([event]) => event);

describe('clients of the replaced service, with a token added', () => {
  let t: TestServer;
  before(async () => {
    // A long auth timeout: a refused client that goes is closed by the refusal, not by the timeout.
    t = await startTestServer({ CODECAST_AUTH_TIMEOUT_SECONDS: '30', CODECAST_HEARTBEAT_SECONDS: '15' });
  });
  after(async () => t?.stop());

  test('an /events listener gets connected, then subscribed, then each new_code', async () => {
    const { token } = await t.createUser('bharat');
    const { socket, seen } = oldListener(t.url, '/events', { username: 'bharat', token });
    try {
      await waitFor(() => names(seen).includes('subscribed'), 'subscribed');
      const [connected, subscribed] = seen;
      assert.deepEqual(names(seen), ['connected', 'subscribed']);
      assert.equal(connected?.[1].message, 'Connected to events endpoint');
      // The rest mirrors hello, so a client can resume from lastId.
      assert.equal(connected?.[1].connectionId, socket.id);
      assert.equal(typeof connected?.[1].lastId, 'number');
      assert.equal(connected?.[1].heartbeatSeconds, 15);
      assert.deepEqual(subscribed?.[1], { message: 'Subscribed to code events' });

      const published = await t.publish('OLD-CLIENT-1', { type: 'drop', source: 'ingest' });
      await waitFor(() => names(seen).includes('new_code'), 'new_code');
      const code = seen.find(([event]) => event === 'new_code')?.[1];
      // What the old page read: code, source, type; `timestamp` is now `publishedAt`.
      assert.equal(code.id, published.id);
      assert.equal(code.code, 'OLD-CLIENT-1');
      assert.equal(code.source, 'ingest');
      assert.equal(code.type, 'drop');
      assert.ok(!Number.isNaN(Date.parse(code.publishedAt)));
      assert.equal('timestamp' in code, false, 'the code object is the contract one');
      assert.deepEqual(names(seen), ['connected', 'subscribed', 'new_code']);

      // A client that passes a callback to `subscribe` gets the answer there too.
      assert.deepEqual(await socket.timeout(5000).emitWithAck('subscribe'), { message: 'Subscribed to code events' });
    } finally {
      socket.disconnect();
    }
  });

  test('the default namespace greets with its own message and answers subscribe too', async () => {
    const { token } = await t.createUser('default-ns');
    const { socket, seen } = oldListener(t.url, '/', { username: 'default-ns', token });
    try {
      await waitFor(() => names(seen).includes('subscribed'), 'subscribed');
      assert.equal(seen[0]?.[0], 'connected');
      assert.equal(seen[0]?.[1].message, 'Connected');
      await t.publish('OLD-CLIENT-2');
      await waitFor(() => names(seen).includes('new_code'), 'new_code');
    } finally {
      socket.disconnect();
    }
  });

  test('connected comes before the codes a resuming client is replayed', async () => {
    const { token } = await t.createUser('resumer');
    const first = await t.publish('OLD-CLIENT-3');
    await t.publish('OLD-CLIENT-4');
    const seen: Seen = [];
    const socket = io(`${t.url}/events`, { auth: { token, since: first.id - 1 }, reconnection: false, forceNew: true });
    for (const event of ['hello', 'connected', 'new_code']) socket.on(event, (data) => seen.push([event, data]));
    try {
      await waitFor(() => seen.filter(([event]) => event === 'new_code').length === 2, 'two replayed codes');
      assert.deepEqual(names(seen), ['hello', 'connected', 'new_code', 'new_code']);
      const [hello, connected] = seen;
      assert.deepEqual(connected?.[1], { message: 'Connected to events endpoint', ...hello?.[1] });
    } finally {
      socket.disconnect();
    }
  });

  test('a username alone, as the replaced service took it, is refused, and the connection closed', async () => {
    await t.createUser('no-token');
    const { socket, seen } = oldListener(t.url, '/events', { username: 'no-token' });
    try {
      await waitFor(() => names(seen).includes('connect_error'), 'connect_error');
      assert.deepEqual(names(seen), ['connect_error']);
      assert.equal(seen[0]?.[1].error, 'unauthorized');
      assert.equal(socket.connected, false);
    } finally {
      socket.disconnect();
    }
  });

  test('the old publish path is not served: a JSON 404, not a silent 200', async () => {
    const res = await t.api('POST', '/api/ingest', { token: null, body: { username: 'bharat', code: 'OLD-INGEST' } });
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'not_found');
  });
});

describe('docs/MIGRATING.md', () => {
  const migrating = readFileSync(new URL('../docs/MIGRATING.md', import.meta.url), 'utf8');

  test("the status table names every catalog error of each status it lists, so a client's handler misses none", () => {
    const section = migrating.slice(migrating.indexOf('## Status codes and errors'), migrating.indexOf('## Settings'));
    const rows = section.split('\n').flatMap((line) => {
      const match = /^\| `(\d{3})` [^|]*\| (.*) \|$/.exec(line);
      return match ? [{ status: Number(match[1]), codecast: match[2] as string }] : [];
    });
    assert.ok(rows.length >= 8, `rows: ${rows.map((r) => r.status).join(', ')}`);
    for (const { status, codecast } of rows) {
      const codes = Object.entries(errorCatalog).flatMap(([code, entry]) => (entry.status === status ? [code] : []));
      const missing = codes.filter((code) => !codecast.includes(`\`${code}\``) && !codecast.includes(`${status} ${code}`));
      assert.deepEqual(missing, [], `the ${status} row does not name ${missing.join(', ')}`);
    }
  });

  test('its links into the README name headings that exist', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const anchors = new Set(
      [...readme.matchAll(/^#+ (.+)$/gm)].map(([, title]) =>
        (title as string)
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, '')
          .replaceAll(' ', '-'),
      ),
    );
    const links = [...migrating.matchAll(/\]\(\.\.\/README\.md#([^)]+)\)/g)].map(([, anchor]) => anchor as string);
    assert.ok(links.includes('tokens-from-your-own-backend-jwt'), 'the JWT section, the replacement for the 15-minute token');
    for (const anchor of links) assert.ok(anchors.has(anchor), `README.md has no heading #${anchor}`);
  });
});
