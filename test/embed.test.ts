// The embed, `/embed` (issue 13): the live list in another site's iframe.
// In headless Chromium, a page of a second origin (the page server of
// cross-origin-pages.test.ts) frames it, hands it a token by postMessage and
// hears codes, revokes, resets and states, from codecast's origin only; a
// page of an origin not allowed cannot frame it, and a token sent by anyone
// but the allowed parent is ignored. The browser enforces frame-ancestors
// and fills in every message's origin itself: nothing is faked.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { embedFrameAncestors } from '../src/web/embed-page.js';
import { accessibilityProblems, chromiumForTests, eventually, launchChromium, pageErrors } from './support/browser.js';
import { startPageServer } from './support/cross-origin-page.js';
import { embedFrame, frameEmbed, type HeardMessage, heard, postToFrame } from './support/embed-parent.js';
import { memoryLogger } from './support/memory-log.js';
import { startTestServer, type TestServer } from './support/server.js';

const chromiumAt = chromiumForTests();

type PageServer = Awaited<ReturnType<typeof startPageServer>>;

/** The messages of one type, in the order heard. */
function ofType(messages: readonly HeardMessage[], type: string): HeardMessage[] {
  return messages.filter((message) => message.data.type === type);
}

/** The states the parent was told, in order. */
function statesOf(messages: readonly HeardMessage[]): string[] {
  return ofType(messages, 'codecast:state').map((message) => message.data.data.state);
}

describe('the embed page over HTTP', () => {
  let t: TestServer;
  let open: TestServer;
  const shop = 'https://shop.example.com';

  before(async () => {
    t = await startTestServer({ CODECAST_ALLOWED_ORIGINS: `${shop}, http://localhost:3000` });
    open = await startTestServer();
  });
  after(async () => {
    await t?.stop();
    await open?.stop();
  });

  test('may be framed by the allowed origins and codecast itself; every other page by no one', async () => {
    const res = await fetch(`${t.url}/embed`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /(^|; )frame-ancestors 'self' https:\/\/shop\.example\.com http:\/\/localhost:3000(;|$)/, csp);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'(;|$)/);
    assert.equal(res.headers.get('x-frame-options'), null);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const html = await res.text();
    assert.match(html, /<meta name="codecast-parent-origins" content="https:\/\/shop\.example\.com http:\/\/localhost:3000">/);
    assert.doesNotMatch(html, /\{\{/, 'every placeholder filled');

    for (const path of ['/', '/admin']) {
      const page = await fetch(`${t.url}${path}`);
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
      await page.arrayBuffer();
    }

    // No list: codecast's own pages only. `*`: every page.
    const alone = await fetch(`${open.url}/embed`);
    assert.match(alone.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'(;|$)/);
    assert.match(await alone.text(), /<meta name="codecast-parent-origins" content="">/);
    assert.deepEqual(embedFrameAncestors(['*']), ['*']);
    assert.deepEqual(embedFrameAncestors([]), ["'self'"]);
  });

  test('takes its look and a nonce from the URL, checked; never a token', async () => {
    const ok = await fetch(`${t.url}/embed?theme=dark&accent=%230A7D38&nonce=n-42`);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<html lang="en" data-theme="dark" data-accent="#0a7d38" data-nonce="n-42">/);
    const short = await fetch(`${t.url}/embed?accent=f80`);
    assert.match(await short.text(), /data-accent="#ff8800"/);

    for (const [query, message] of [
      ['token=cc_abc', /postMessage \(codecast:token\), never in its URL/],
      ['access_token=eyJ', /never in its URL/],
      ['theme=pink', /^querystring\.theme must be auto, light or dark\.$/],
      ['theme=dark&theme=light', /^querystring\.theme is given more than once\.$/],
      ['accent=red', /^querystring\.accent must be a colour of 3 or 6 hex digits/],
      ['accent=%2300ff00%3Bcolor:red', /^querystring\.accent must be/],
      ['nonce=%3Cscript%3E', /^querystring\.nonce must be 1 to 128/],
      ['user=pat', /^querystring has an unknown field "user"/],
    ] as const) {
      const res = await fetch(`${t.url}/embed?${query}`);
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'invalid_request', query);
      assert.match(body.message, message, query);
    }
  });
});

describe('the embed in Chromium, framed by another site', { skip: chromiumAt.skip }, () => {
  let t: TestServer;
  let browser: Browser;
  let allowed: PageServer;
  let other: PageServer;
  let pat: { token: string; id: number };
  let sam: { token: string; id: number };
  const log = memoryLogger();
  /** Every URL any page of the tests requested. */
  const urls: string[] = [];
  const errors: string[] = [];

  /** A fresh context (so no tab shares anything) whose requests are recorded. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    context.on('request', (request) => urls.push(request.url()));
    const page = await context.newPage();
    const pageProblems = pageErrors(page);
    context.on('close', () => errors.push(...pageProblems));
    return { context, page };
  }

  /** The embed's frame, once loaded. */
  function frameOf(page: Page): Frame {
    const frame = embedFrame(page, t.url);
    assert.ok(frame, 'the embed is framed');
    return frame;
  }

  /**
   * Waits until the embed has told its parent a message of that type (that
   * `what` accepts), among those heard from the `from`th on; answers it.
   */
  async function waitFor(page: Page, type: string, what: (message: HeardMessage['data']) => boolean = () => true, from = 0) {
    let found: HeardMessage | undefined;
    await eventually(async () => {
      found = ofType((await heard(page, 'embed')).slice(from), type).find((message) => what(message.data));
      return found !== undefined;
    }, `${type} from the embed`);
    return found as HeardMessage;
  }

  before(async () => {
    allowed = await startPageServer();
    other = await startPageServer();
    t = await startTestServer(
      {
        CODECAST_ALLOWED_ORIGINS: allowed.origin,
        // A cut stream is retried soon.
        CODECAST_SSE_RETRY_MS: '300',
        // A short history, so a longer absence ends in a `reset`.
        CODECAST_HISTORY: '3',
      },
      { logger: log.logger },
    );
    browser = await launchChromium(chromiumAt.path!);
    pat = await t.createUser('pat');
    sam = await t.createUser('sam');
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await allowed?.close();
    await other?.close();
  });

  test('an allowed parent hands it a token and hears every code, revoke, reset and state, from codecast only', async () => {
    const { context, page } = await newPage();
    const earlier = await t.publish('BEFORE-THE-FRAME');
    await page.goto(`${allowed.origin}/`);
    await frameEmbed(page, `${t.url}/embed?nonce=n-1&theme=dark&accent=0a7d38`);
    const frame = frameOf(page);

    // Ready, before any token: the page waits for one, and nothing connects yet.
    const ready = await waitFor(page, 'codecast:ready');
    assert.deepEqual(ready.data, { type: 'codecast:ready', data: { version: 1 }, nonce: 'n-1' });
    assert.equal(await frame.textContent('#status-text'), 'Waiting for sign-in');

    // Its look came from the URL.
    const look = () =>
      frame.evaluate(() => ({
        theme: document.documentElement.dataset.theme,
        accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
        onAccent: getComputedStyle(document.documentElement).getPropertyValue('--on-accent').trim(),
        background: getComputedStyle(document.body).backgroundColor,
      }));
    assert.deepEqual(await look(), { theme: 'dark', accent: '#0a7d38', onAccent: '#ffffff', background: 'rgb(14, 17, 22)' });

    const opened = t.server.stats().connections.opened;
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'live');
    assert.equal(t.server.stats().connections.opened, opened + 1, 'one stream, opened by the embed');
    assert.deepEqual(statesOf(await heard(page)).slice(0, 2), ['connecting', 'live']);
    // The list starts with the recent codes, which the parent hears as history.
    const first = await waitFor(page, 'codecast:code', (m) => m.data.id === earlier.id);
    assert.equal(first.data.delivery, 'history');
    assert.equal(first.data.data.code, 'BEFORE-THE-FRAME');

    // A live code: the parent hears it, the list shows it, and the embed acks it.
    const live = await t.publish('LIVE-1', { value: 3, type: 'drop', message: 'Shown in the frame' });
    const code = await waitFor(page, 'codecast:code', (m) => m.data.id === live.id);
    assert.equal(code.data.delivery, 'live');
    assert.deepEqual(
      { code: code.data.data.code, value: code.data.data.value, type: code.data.data.type, message: code.data.data.message },
      { code: 'LIVE-1', value: 3, type: 'drop', message: 'Shown in the frame' },
    );
    const card = frame.locator(`#codes .code-card[data-id="${live.id}"]`);
    await card.waitFor();
    assert.equal(await card.locator('.code-value').textContent(), 'LIVE-1');
    assert.equal(await frame.locator('#codes .code-card').count(), 2);
    await eventually(async () => (await t.api('GET', `/api/v1/codes/${live.id}`)).body.acks.users === 1, 'the embed to ack the code');

    // A revoke: the parent hears it, the card is struck through.
    assert.equal((await t.api('DELETE', `/api/v1/codes/${live.id}`)).status, 200);
    const revoke = await waitFor(page, 'codecast:revoke');
    assert.deepEqual(revoke.data.data, { id: live.id });
    await frame.locator(`#codes .code-card.revoked[data-id="${live.id}"]`).waitFor();

    // The server cuts the stream: reconnecting, then live again, and what was
    // published meanwhile comes as a replay.
    const before = statesOf(await heard(page)).length;
    t.server.hub.closeUser(pat.id, 'stale');
    const cut = await t.publish('ACROSS-THE-CUT');
    await waitFor(page, 'codecast:code', (m) => m.data.id === cut.id);
    await eventually(
      async () =>
        statesOf(await heard(page))
          .slice(before)
          .at(-1) === 'live',
      'live again',
    );
    assert.equal(statesOf(await heard(page)).slice(before)[0], 'reconnecting');

    // Away longer than history reaches: a reset, then the list rebuilt.
    await context.setOffline(true);
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'offline');
    const away: number[] = [];
    for (let i = 1; i <= 5; i++) away.push((await t.publish(`LONG-AWAY-${i}`)).id);
    const back = (await heard(page)).length;
    await context.setOffline(false);
    const reset = await waitFor(page, 'codecast:reset');
    assert.equal(typeof reset.data.data.oldestId, 'number');
    assert.equal(typeof reset.data.data.lastId, 'number');
    for (const id of away) await frame.locator(`#codes .code-card[data-id="${id}"]`).waitFor();
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'live', back);

    // Every message came from codecast's origin, through the frame, with the nonce.
    const all = await heard(page);
    assert.ok(all.length > 10);
    for (const message of all) {
      assert.equal(message.origin, t.url, JSON.stringify(message));
      assert.equal(message.frame, 'embed');
      assert.equal(message.data.nonce, 'n-1');
    }
    // Each code once, in order, apart from those the reset brought back.
    const ids = ofType(all, 'codecast:code')
      .filter((message) => message.data.delivery !== 'history')
      .map((message) => message.data.data.id);
    assert.deepEqual(
      ids,
      [...new Set(ids)].sort((a, b) => a - b),
    );

    // The look may change by message, within the same checks.
    await postToFrame(page, { type: 'codecast:theme', theme: 'light', accent: '#fc0' }, t.url);
    await eventually(async () => (await look()).theme === 'light', 'the light theme');
    assert.deepEqual(await look(), { theme: 'light', accent: '#ffcc00', onAccent: '#000000', background: 'rgb(244, 245, 248)' });
    await postToFrame(page, { type: 'codecast:theme', accent: 'url(https://evil.example/x)' }, t.url);
    const refused = await waitFor(page, 'codecast:error', (m) => m.data.error === 'invalid_request');
    assert.match(refused.data.data.message, /`accent` must be a colour/);
    assert.equal((await look()).accent, '#ffcc00', 'a refused look changes nothing');

    // Accessible: axe-core over the frame as shown, in both themes.
    assert.deepEqual(await accessibilityProblems(frame), []);
    await postToFrame(page, { type: 'codecast:theme', theme: 'dark', accent: null }, t.url);
    await eventually(async () => (await look()).theme === 'dark', 'the dark theme');
    assert.equal((await look()).accent, '#8b93ff', 'the default accent again');
    assert.deepEqual(await accessibilityProblems(frame), []);
    assert.equal(await frame.getAttribute('#announcer', 'aria-live'), 'polite');
    assert.equal(await frame.getAttribute('#status', 'role'), 'status');
    await context.close();
  });

  test('a new token carries on from the last code; codecast:close ends the stream', async () => {
    const { context, page } = await newPage();
    await page.goto(`${allowed.origin}/`);
    await frameEmbed(page, `${t.url}/embed`);
    await waitFor(page, 'codecast:ready');
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'live');
    const one = await t.publish('FOR-PAT');
    await waitFor(page, 'codecast:code', (m) => m.data.id === one.id);

    // Another user's token (a JWT renewed would do the same): the stream is
    // replaced, from the last code shown; the old one's `closed` is not passed on.
    const before = (await heard(page)).length;
    await postToFrame(page, { type: 'codecast:token', token: sam.token }, t.url);
    const between = await t.publish('BETWEEN-TOKENS');
    await waitFor(page, 'codecast:code', (m) => m.data.id === between.id);
    await eventually(async () => statesOf((await heard(page)).slice(before)).at(-1) === 'live', 'live with the new token');
    assert.ok(!statesOf((await heard(page)).slice(before)).includes('closed'));
    const codes = ofType(await heard(page), 'codecast:code').map((message) => message.data.data.id);
    assert.equal(codes.filter((id) => id === one.id).length, 1, 'nothing shown twice');
    assert.equal(await frameOf(page).locator(`#codes .code-card[data-id="${one.id}"]`).count(), 1, 'the list is kept');
    await eventually(async () => t.server.stats().connections.total === 1, "one stream open: sam's");

    await postToFrame(page, { type: 'codecast:close' }, t.url);
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'closed');
    await eventually(async () => t.server.stats().connections.total === 0, 'the stream closed');
    assert.equal(await frameOf(page).locator('#codes .code-card').count(), 0, 'the list is cleared');
    await context.close();
  });

  test('codecast:close or a new token while the recent codes load: the feed it ends adds nothing afterwards', async () => {
    const { context, page } = await newPage();
    // The recent codes' request is held until the test lets it go.
    let requested = 0;
    let release: () => void = () => undefined;
    let held = Promise.resolve();
    const hold = () => {
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    await context.route(/\/api\/v1\/codes\?/, async (route) => {
      requested++;
      await held;
      // Aborted by then, if the feed was closed: nothing to continue.
      await route.continue().catch(() => undefined);
    });
    await t.publish('RECENT-FOR-THE-LIST');
    await page.goto(`${allowed.origin}/`);
    await frameEmbed(page, `${t.url}/embed`);
    await waitFor(page, 'codecast:ready');
    const frame = frameOf(page);
    const cards = () => frame.locator('#codes .code-card').count();

    // A new token while the first feed's recent codes load: the new feed
    // carries on from the first one's hello, with nothing of its own to load.
    hold();
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await eventually(async () => requested === 1, 'the recent codes to be asked for');
    await postToFrame(page, { type: 'codecast:token', token: sam.token }, t.url);
    await eventually(async () => statesOf(await heard(page)).filter((state) => state === 'live').length === 2, 'live with the new token');
    release();
    await page.waitForTimeout(500);
    assert.equal(await cards(), 0, 'the replaced feed added none of its recent codes');

    // codecast:close while the recent codes load: the list stays empty, with no notice.
    await postToFrame(page, { type: 'codecast:close' }, t.url);
    await eventually(async () => t.server.stats().connections.total === 0, 'the stream closed');
    hold();
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await eventually(async () => requested === 2, 'the recent codes to be asked for again');
    await postToFrame(page, { type: 'codecast:close' }, t.url);
    await eventually(async () => statesOf(await heard(page)).at(-1) === 'closed', 'closed');
    release();
    await page.waitForTimeout(500);
    assert.equal(await cards(), 0, 'the closed feed added none of its recent codes');
    assert.equal(await frame.locator('#notice').isVisible(), false, 'a load cut by close() is no news');
    assert.deepEqual(ofType(await heard(page), 'codecast:code'), [], 'the parent heard of no code');
    await context.close();
  });

  test('a message the embed fails to carry out is told to the parent, and the next ones are still taken', async () => {
    const { context, page } = await newPage();
    await page.goto(`${allowed.origin}/`);
    await frameEmbed(page, `${t.url}/embed`);
    await waitFor(page, 'codecast:ready');
    // One failure, made inside the frame: the next change of look throws once.
    await frameOf(page).evaluate(() => {
      const style = document.documentElement.style;
      style.setProperty = () => {
        Reflect.deleteProperty(style, 'setProperty');
        throw new Error('injected failure');
      };
    });
    await postToFrame(page, { type: 'codecast:theme', accent: '#123456' }, t.url);
    const failed = await waitFor(page, 'codecast:error', (m) => m.data.error === 'embed_error');
    assert.match(failed.data.data.message, /injected failure/);
    assert.equal(failed.data.data.final, false);
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'live');
    await context.close();
  });

  test('a refused token is told to the parent and shown, and nothing retries', async () => {
    const { context, page } = await newPage();
    await page.goto(`${allowed.origin}/`);
    await frameEmbed(page, `${t.url}/embed`);
    await waitFor(page, 'codecast:ready');
    await postToFrame(page, { type: 'codecast:token', token: 'cc_not-a-real-token-0000000000000000' }, t.url);
    const error = await waitFor(page, 'codecast:error');
    assert.deepEqual(
      { error: error.data.data.error, status: error.data.data.status, final: error.data.data.final },
      { error: 'unauthorized', status: 401, final: true },
    );
    const state = await waitFor(page, 'codecast:state', (m) => m.data.state === 'refused');
    assert.equal(state.data.data.error.error, 'unauthorized');
    const notice = frameOf(page).locator('#notice');
    await notice.waitFor();
    assert.match((await notice.textContent()) ?? '', /cannot be shown/);

    // A message that is not one of the embed's gets an error, not silence.
    await postToFrame(page, { type: 'codecast:tokn', token: pat.token }, t.url);
    const unknown = await waitFor(page, 'codecast:error', (m) => m.data.error === 'invalid_request');
    assert.match(unknown.data.data.message, /Unknown message type "codecast:tokn"/);
    await postToFrame(page, { type: 'codecast:token', token: `${pat.token} ` }, t.url);
    await eventually(
      async () => ofType(await heard(page), 'codecast:error').filter((m) => m.data.data.error === 'invalid_request').length === 2,
      'a token with a space refused',
    );
    await context.close();
  });

  test('a page of an origin not allowed cannot frame it', async () => {
    const { context, page } = await newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/frame-ancestors/.test(message.text())) violations.push(message.text());
    });
    await page.goto(`${other.origin}/`);
    const opened = t.server.stats().connections.opened;
    await frameEmbed(page, `${t.url}/embed`);
    // Chromium shows its error page in place of the embed, and says why.
    await eventually(async () => violations.length > 0, 'the frame-ancestors violation');
    assert.match(violations[0] ?? '', new RegExp(`frame-ancestors 'self' ${allowed.origin}`));
    assert.equal(embedFrame(page, t.url), undefined, 'no document of codecast in the page');
    assert.ok(page.frames().some((frame) => frame.url().startsWith('chrome-error:')));

    // Whatever it posts to the frame, nothing answers and nothing connects.
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, '*');
    await page.waitForTimeout(1000);
    assert.deepEqual(await heard(page), []);
    assert.equal(t.server.stats().connections.opened, opened);
    await context.close();
  });

  test('where frame-ancestors is not enforced, a parent not allowed still hears nothing and its token is ignored', async () => {
    const { context, page } = await newPage();
    // A proxy that drops the policy, or a browser that ignores it: the page loads in the frame.
    await context.route(`${t.url}/embed*`, async (route) => {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      delete headers['content-security-policy'];
      await route.fulfill({ response, headers });
    });
    await page.goto(`${other.origin}/`);
    await frameEmbed(page, `${t.url}/embed`);
    const frame = frameOf(page);
    await frame.locator('#status-text', { hasText: 'Waiting for sign-in' }).waitFor();
    const opened = t.server.stats().connections.opened;
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await postToFrame(page, { type: 'codecast:tokn' }, t.url);
    await page.waitForTimeout(1000);
    assert.deepEqual(await heard(page), [], 'not even ready');
    assert.equal(t.server.stats().connections.opened, opened, 'no stream opened');
    assert.equal(await frame.textContent('#status-text'), 'Waiting for sign-in');
    await context.close();
  });

  test('a token from anyone but the allowed parent is ignored: sibling frames, of its origin or another, an opener', async () => {
    const { context, page } = await newPage();
    await page.goto(`${allowed.origin}/`);
    await frameEmbed(page, `${t.url}/embed`);
    // Beside it, a frame of a page not allowed, and one of the allowed
    // origin that is not the embed's parent (a widget of the same site).
    await frameEmbed(page, `${other.origin}/`, 'intruder');
    await frameEmbed(page, `${allowed.origin}/`, 'sibling');
    await waitFor(page, 'codecast:ready');
    const opened = t.server.stats().connections.opened;

    for (const origin of [other.origin, allowed.origin]) {
      const sender = page.frames().find((frame) => frame !== page.mainFrame() && frame.url().startsWith(origin));
      assert.ok(sender, origin);
      // It posts a token to the embed (the parent's first frame), to any origin.
      await sender.evaluate((token) => {
        const embed = window.parent.frames[0];
        embed?.postMessage({ type: 'codecast:token', token }, '*');
        embed?.postMessage({ type: 'codecast:tokn' }, '*');
      }, pat.token);
    }
    await page.waitForTimeout(1000);
    assert.equal(t.server.stats().connections.opened, opened, 'no stream opened');
    assert.deepEqual(
      (await heard(page)).map((message) => message.data.type),
      ['codecast:ready'],
      'no answer, not even an error',
    );
    assert.equal(await frameOf(page).textContent('#status-text'), 'Waiting for sign-in');

    // The same message from the parent is taken: the check above could fail.
    await postToFrame(page, { type: 'codecast:token', token: pat.token }, t.url);
    await waitFor(page, 'codecast:state', (m) => m.data.state === 'live');
    assert.equal(t.server.stats().connections.opened, opened + 1);

    // Opened in a window of its own by a page of another origin: no parent,
    // so the opener's token is not listened to.
    const other2 = await newPage();
    await other2.page.goto(`${other.origin}/`);
    const [popup] = await Promise.all([
      other2.context.waitForEvent('page'),
      other2.page.evaluate((url) => {
        (window as unknown as { popup: Window | null }).popup = window.open(url);
      }, `${t.url}/embed`),
    ]);
    await popup.locator('#status-text', { hasText: 'Not embedded' }).waitFor();
    const openedBefore = t.server.stats().connections.opened;
    await other2.page.evaluate((token) => {
      (window as unknown as { popup: Window }).popup.postMessage({ type: 'codecast:token', token }, '*');
    }, pat.token);
    await popup.waitForTimeout(1000);
    assert.equal(t.server.stats().connections.opened, openedBefore, 'no stream opened by the popup');
    assert.equal(await popup.textContent('#status-text'), 'Not embedded');
    await other2.context.close();
    await context.close();
  });

  test('no token ever appears in a URL, in the browser or in the server log; the pages raised no errors', () => {
    assert.ok(urls.some((url) => url.startsWith(`${t.url}/embed`)));
    assert.ok(urls.some((url) => url.startsWith(`${t.url}/api/v1/stream`)));
    for (const url of urls) {
      for (const token of [pat.token, sam.token]) assert.ok(!url.includes(token), `a token in ${url}`);
      assert.doesNotMatch(url, /[?&;]token=/, url);
    }
    const requests = log.lines.filter((line) => line.includes('"url"'));
    assert.ok(
      requests.some((line) => line.includes('/api/v1/stream')),
      'the server logged the requests',
    );
    for (const line of requests) {
      for (const token of [pat.token, sam.token]) assert.ok(!line.includes(token), `a token in ${line}`);
      assert.doesNotMatch(line, /token=/, line);
    }
    // The one error expected, the refused frame, is counted in its own test.
    assert.deepEqual(
      errors.filter((error) => !/frame-ancestors/.test(error)),
      [],
    );
  });
});
