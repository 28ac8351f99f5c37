// Pages on other origins in headless Chromium (issue 13): a page served by
// a second local server subscribes over every transport and acks when its
// origin is in CODECAST_ALLOWED_ORIGINS, and is refused on each when not.
// The browser enforces CORS and sends Origin itself: nothing is faked.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumForTests, eventually, launchChromium, pageErrors } from './support/browser.js';
import { startPageServer, type PageResults } from './support/cross-origin-page.js';
import { startTestServer, type TestServer } from './support/server.js';

const chromiumAt = chromiumForTests();

type Transports = readonly ('polling' | 'websocket')[];

/** What the page has recorded so far. */
function resultsOf(page: Page): Promise<PageResults> {
  return page.evaluate(() => (window as unknown as { results: PageResults }).results);
}

/** Opens the page on `origin` and every way in from it to codecast at `api`. */
async function subscribeFrom(browser: Browser, origin: string, api: string, token: string, transports: Transports): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  await page.evaluate(
    ({ api, token, transports }) =>
      (window as unknown as { subscribe(api: string, token: string, transports: Transports): void }).subscribe(api, token, transports),
    { api, token, transports },
  );
  return page;
}

/** A fetch from the page: its status, the headers it may read, and its JSON; or the error it threw. */
interface PageFetch {
  readonly status?: number;
  readonly body?: any;
  readonly headers?: Record<string, string | null>;
  readonly threw?: string;
}

function fetchFrom(
  page: Page,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<PageFetch> {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const res = await fetch(url, init);
        const text = await res.text();
        const headers: Record<string, string | null> = {};
        for (const name of ['retry-after', 'www-authenticate', 'idempotent-replayed', 'content-type'])
          headers[name] = res.headers.get(name);
        let body: unknown = text === '' ? undefined : text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (an engine.io packet): the text
        }
        return { status: res.status, body, headers };
      } catch (error) {
        return { threw: String(error) };
      }
    },
    { url, init },
  );
}

describe('pages on other origins', { skip: chromiumAt.skip }, () => {
  let t: TestServer;
  let browser: Browser;
  let allowed: Awaited<ReturnType<typeof startPageServer>>;
  let other: Awaited<ReturnType<typeof startPageServer>>;
  let pat: { token: string; id: number };

  before(async () => {
    allowed = await startPageServer();
    other = await startPageServer();
    t = await startTestServer({ CODECAST_ALLOWED_ORIGINS: allowed.origin });
    browser = await launchChromium(chromiumAt.path!);
    pat = await t.createUser('pat');
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await allowed?.close();
    await other?.close();
  });

  test('a page on an allowed origin gets codes over SSE, WebSocket and Socket.IO, and acks one', async () => {
    const page = await subscribeFrom(browser, allowed.origin, t.url, pat.token, ['polling', 'websocket']);
    const errors = pageErrors(page);
    await eventually(async () => {
      const { opened } = await resultsOf(page);
      return opened.eventSource !== undefined && opened.fetchStream === 200 && opened.ws === true && opened.socketio === true;
    }, 'every way in to open');

    const { id } = await t.publish('CROSS-ORIGIN-1');
    await eventually(async () => {
      const { codes } = await resultsOf(page);
      return Object.values(codes).every((received) => received.includes('CROSS-ORIGIN-1'));
    }, 'the code on every way in');
    // Socket.IO came over polling first, then upgraded: both passed.
    assert.equal((await resultsOf(page)).failed.socketio, undefined);

    // The ack needs a preflight (Authorization, a JSON content type).
    const auth = { Authorization: `Bearer ${pat.token}` };
    const ack = await fetchFrom(page, `${t.url}/api/v1/codes/${id}/ack`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(ack.status, 200, JSON.stringify(ack));
    assert.equal(ack.body.id, id);
    assert.equal(ack.body.first, true);
    const figures = await t.api('GET', `/api/v1/codes/${id}`);
    assert.equal(figures.body.acks.users, 1);

    // Refusals are readable too: status, our JSON and the headers that say what to do.
    const unknownCode = await fetchFrom(page, `${t.url}/api/v1/codes/999999/ack`, { method: 'POST', headers: auth });
    assert.equal(unknownCode.status, 404);
    assert.equal(unknownCode.body.error, 'code_not_found');
    const badToken = await fetchFrom(page, `${t.url}/api/v1/codes`, { headers: { Authorization: 'Bearer cc_not-a-token-0123456789' } });
    assert.equal(badToken.status, 401);
    assert.equal(badToken.body.error, 'unauthorized');
    assert.equal(badToken.headers?.['www-authenticate'], 'Bearer');
    const notAdmin = await fetchFrom(page, `${t.url}/api/v1/codes`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: 'NOPE' }),
    });
    assert.equal(notAdmin.status, 403);
    assert.equal(notAdmin.body.error, 'forbidden');
    const { eventSource: connectionId } = (await resultsOf(page)).opened;
    const pong = `${t.url}/api/v1/stream/${connectionId}/pong`;
    assert.equal((await fetchFrom(page, pong, { method: 'POST', headers: auth })).status, 204);
    const tooSoon = await fetchFrom(page, pong, { method: 'POST', headers: auth });
    assert.equal(tooSoon.status, 429);
    assert.equal(tooSoon.body.error, 'pong_too_frequent');
    assert.match(tooSoon.headers?.['retry-after'] ?? '', /^\d+$/);

    // A publish from the page: Idempotency-Key may be sent, Idempotent-Replayed read.
    const publish = () =>
      fetchFrom(page, `${t.url}/api/v1/codes`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${t.adminToken}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'page-1' },
        body: JSON.stringify({ code: 'FROM-THE-PAGE' }),
      });
    assert.equal((await publish()).status, 201);
    const again = await publish();
    assert.equal(again.status, 200);
    assert.equal(again.headers?.['idempotent-replayed'], 'true');

    await page.evaluate(() => (window as unknown as { closeAll(): void }).closeAll());
    assert.deepEqual(errors, []);
    await page.close();
  });

  for (const transports of [['polling', 'websocket'], ['websocket']] as const) {
    test(`a page on an origin not listed is refused on every way in (Socket.IO ${transports.join(' then ')})`, async () => {
      const before = t.server.stats().connections;
      const page = await subscribeFrom(browser, other.origin, t.url, pat.token, transports);
      await eventually(async () => {
        const { failed } = await resultsOf(page);
        return (
          failed.eventSource !== undefined && failed.fetchStream !== undefined && failed.ws !== undefined && failed.socketio !== undefined
        );
      }, 'every way in to fail');
      const { failed, opened, codes } = await resultsOf(page);
      assert.equal(failed.eventSource, 2, 'the EventSource is closed for good');
      assert.match(failed.fetchStream ?? '', /TypeError/);
      // Refused before the upgrade: the browser only says the connection failed.
      assert.equal(failed.ws, 1006);
      assert.match(failed.socketio ?? '', /error/);
      assert.deepEqual(opened, {});
      assert.deepEqual(Object.values(codes).flat(), []);
      // WebSocket and Socket.IO were refused by the server, not only by the
      // browser: no connection of theirs was ever opened there.
      const after = t.server.stats().connections;
      assert.equal(after.byTransport.ws, before.byTransport.ws);
      assert.equal(after.byTransport.socketio, before.byTransport.socketio);

      // Nor can it call the API: the preflight of a request with a token finds no CORS.
      const api = await fetchFrom(page, `${t.url}/api/v1/codes`, { headers: { Authorization: `Bearer ${pat.token}` } });
      assert.match(api.threw ?? '', /TypeError/);
      await page.evaluate(() => (window as unknown as { closeAll(): void }).closeAll());
      await page.close();
    });
  }

  // docs/MIGRATING.md: the replaced service read the username from an
  // X-Username header; a page that still sends one is stopped by its
  // preflight, which allows only the headers codecast reads.
  test('a page on an allowed origin that still sends X-Username fails the preflight; without it, it connects', async () => {
    const page = await browser.newPage();
    await page.goto(`${allowed.origin}/`);
    const connect = (extraHeaders: Record<string, string>) =>
      page.evaluate(
        ({ api, token, extraHeaders }) =>
          new Promise<string>((resolve) => {
            const io = (window as unknown as { io: (url: string, options: object) => any }).io;
            const socket = io(api, { auth: { token }, extraHeaders, transports: ['polling'], reconnection: false, forceNew: true });
            socket.on('connect', () => {
              resolve('connected');
              socket.close();
            });
            socket.on('connect_error', (error: Error) => resolve(`connect_error: ${error.message}`));
          }),
        { api: t.url, token: pat.token, extraHeaders },
      );
    assert.equal(await connect({ 'X-Username': 'pat' }), 'connect_error: xhr poll error');
    assert.equal(await connect({}), 'connected');
    const withHeader = await fetchFrom(page, `${t.url}/api/v1/me`, {
      headers: { Authorization: `Bearer ${pat.token}`, 'X-Username': 'pat' },
    });
    assert.match(withHeader.threw ?? '', /TypeError/);
    assert.equal((await fetchFrom(page, `${t.url}/api/v1/me`, { headers: { Authorization: `Bearer ${pat.token}` } })).status, 200);
    await page.close();
  });

  test("codecast's own pages keep their WebSocket and Socket.IO with the list set (same origin)", async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    const opened = await page.evaluate(
      ({ token }) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/v1/ws?token=${encodeURIComponent(token)}`);
          ws.onmessage = (e) => {
            resolve(JSON.parse(e.data).type);
            ws.close();
          };
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      { token: pat.token },
    );
    assert.equal(opened, 'hello');
    const polled = await fetchFrom(page, `${t.url}/socket.io/?EIO=4&transport=polling`, {});
    assert.equal(polled.status, 200);
    await page.close();
  });
});
