// The admin page and the subscriber page in headless Chromium (Debian's
// `chromium`, driven by playwright-core), against a real codecast.
//
// UPDATE_SCREENSHOTS=1 also writes the README's screenshots to docs/images/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { accessibilityProblems, chromiumForTests, eventually, launchChromium, pageErrors, screenshot } from './support/browser.js';
import { startTestServer, type TestServer } from './support/server.js';

const chromiumAt = chromiumForTests();
const DESKTOP = { width: 1440, height: 1000 };
const PHONE = { width: 390, height: 844 };

/** The ids of the subscriber page's code cards, top to bottom. */
async function shownIds(page: Page): Promise<number[]> {
  return page.$$eval('#codes .code-card', (cards) => cards.map((card) => Number((card as HTMLElement).dataset.id)));
}

/** Every request a context makes, to check that no token ever lands in a URL. */
function recordUrls(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (request) => urls.push(request.url()));
  return urls;
}

describe('web pages', { skip: chromiumAt.skip }, () => {
  let t: TestServer;
  let browser: Browser;
  let adminContext: BrowserContext;
  let subscriberContext: BrowserContext;
  let admin: Page;
  let subscriber: Page;
  let adminErrors: string[];
  let subscriberErrors: string[];
  let adminUrls: string[];
  let subscriberUrls: string[];
  let alice: { token: string; id: number };
  /** Every token the pages were given, none of which may ever be in a URL. */
  const secrets: string[] = [];

  before(async () => {
    t = await startTestServer({
      // A lost stream is noticed within 2 heartbeats, and retried soon.
      CODECAST_HEARTBEAT_SECONDS: '1',
      CODECAST_SSE_RETRY_MS: '300',
      // A short history, so a longer absence ends in a `reset`.
      CODECAST_HISTORY: '5',
      // Long enough that the duplicate test below cannot race the window.
      CODECAST_DEDUP_SECONDS: '3600',
    });
    browser = await launchChromium(chromiumAt.path!);
    adminContext = await browser.newContext({ viewport: DESKTOP });
    subscriberContext = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await subscriberContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    await adminContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    adminUrls = recordUrls(adminContext);
    subscriberUrls = recordUrls(subscriberContext);
    admin = await adminContext.newPage();
    subscriber = await subscriberContext.newPage();
    adminErrors = pageErrors(admin);
    subscriberErrors = pageErrors(subscriber);
  });

  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  test('the pages, their scripts and the charting library are served by codecast itself', async () => {
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/admin', 'text/html'],
      ['/assets/js/subscriber/main.js', 'javascript'],
      ['/assets/css/base.css', 'text/css'],
      ['/vendor/uplot/uPlot.esm.js', 'javascript'],
      ['/vendor/uplot/uPlot.min.css', 'text/css'],
    ] as const) {
      const response = await fetch(`${t.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(type), path);
      await response.arrayBuffer();
    }
    const page = await fetch(`${t.url}/admin`);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'.*script-src 'self'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    await page.arrayBuffer();
    // Only the browser build is exposed from node_modules.
    const other = await fetch(`${t.url}/vendor/uplot/uPlot.cjs.js`);
    assert.equal(other.status, 404);
    await other.arrayBuffer();
  });

  test('a wrong token is refused with a readable message, and a user token cannot open the admin page', async () => {
    const bob = await t.createUser('bob');
    secrets.push(bob.token);
    await admin.goto(`${t.url}/admin`);
    await admin.fill('#token', bob.token);
    await admin.click('#sign-in-form button[type="submit"]');
    await admin.locator('#sign-in-error').waitFor({ state: 'visible' });
    assert.equal(await admin.textContent('#sign-in-error'), 'bob is not an admin: this page needs an admin token.');
    assert.equal(await admin.evaluate(() => sessionStorage.length), 0);

    await subscriber.goto(`${t.url}/`);
    await subscriber.fill('#token', 'cc_not-a-real-token-0000000000000000');
    await subscriber.click('#sign-in-form button[type="submit"]');
    await subscriber.locator('#sign-in-error').waitFor({ state: 'visible' });
    assert.equal(await subscriber.textContent('#sign-in-error'), 'That token is not valid, or it was revoked.');
  });

  test('an admin signs in, creates a user and publishes; the user sees the code live', async () => {
    await admin.fill('#token', t.adminToken);
    await admin.click('#sign-in-form button[type="submit"]');
    await admin.locator('#status[data-state="live"]').waitFor();
    assert.equal(await admin.textContent('#account-name'), 'admin');

    // Create a user: its token is shown once, with a working copy button.
    await admin.click('#tab-users');
    await admin.fill('#user-name', 'alice');
    await admin.click('#user-form button[type="submit"]');
    const tokenText = admin.locator('#new-token-value');
    await tokenText.waitFor();
    const token = (await tokenText.textContent())!.trim();
    assert.match(token, /^cc_[\w-]{43}$/);
    await admin.click('#new-token button.copy');
    await admin.locator('#new-token button.copy.done').waitFor();
    assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), token);
    await admin.locator('#users-table tr[data-user="alice"]').waitFor();
    await screenshot(admin, 'web-admin-users');
    const users = await t.api('GET', '/api/v1/users');
    secrets.push(t.adminToken, token);
    alice = { token, id: users.body.users.find((u: { username: string }) => u.username === 'alice').id };

    // The user signs in on a phone-sized page.
    await subscriber.fill('#token', token);
    await subscriber.click('#sign-in-form button[type="submit"]');
    await subscriber.locator('#status[data-state="live"]').waitFor();
    assert.equal(await subscriber.textContent('#status-text'), 'Connected');
    assert.equal(await subscriber.isChecked('#sound-toggle'), false, 'sound is off until asked for');
    assert.equal(await subscriber.isChecked('#notify-toggle'), false, 'notifications are off until asked for');

    // The audience shown before sending counts alice's page and the admin's own feed.
    await admin.click('#tab-overview');
    await eventually(
      async () => /2 connections · 2 users online/.test((await admin.textContent('#audience')) ?? ''),
      'audience of 2',
      10_000,
    );

    await admin.fill('#publish-code', 'SUMMER-26');
    await admin.fill('#publish-value', '3');
    await admin.fill('#publish-type', 'drop');
    await admin.fill('#publish-ttl', '10');
    await admin.selectOption('#publish-ttl-unit', '60');
    await admin.fill('#publish-message', 'Summer drop: redeem it in the shop.');
    await admin.click('#publish-form button[type="submit"]');
    const result = admin.locator('#publish-result .success');
    await result.waitFor();
    assert.match((await result.textContent()) ?? '', /Published SUMMER-26 as #1, handed to 2 connections/);

    // The user's page shows it at once, with its details and a ticking expiry.
    const card = subscriber.locator('#codes .code-card[data-id="1"]');
    await card.waitFor();
    assert.equal(await card.locator('.code-value').textContent(), 'SUMMER-26');
    assert.match((await card.textContent()) ?? '', /Value3/);
    assert.match((await card.textContent()) ?? '', /Typedrop/);
    assert.equal(await card.locator('.code-message').textContent(), 'Summer drop: redeem it in the shop.');
    const before = await card.locator('.time-left').textContent();
    assert.match(before ?? '', /^Expires in (9 min 5\d|10 min 00) s$/);
    await eventually(async () => (await card.locator('.time-left').textContent()) !== before, 'the time left to tick', 5000);

    // Its copy button copies the code.
    await card.locator('button.copy').click();
    assert.equal(await subscriber.evaluate(() => navigator.clipboard.readText()), 'SUMMER-26');

    // The page acknowledged it, and the admin's figures say so.
    await eventually(async () => (await t.api('GET', '/api/v1/codes/1')).body.acks.users === 1, 'alice to ack', 10_000);
    await eventually(
      async () => /Acked by\s*1 user(?!s)/.test((await admin.locator('#publish-result').textContent()) ?? ''),
      'the admin page to show the ack',
      10_000,
    );
    assert.match((await admin.locator('#publish-result').textContent()) ?? '', /Delivered\s*2/);
    await screenshot(admin, 'web-admin-overview');
    await screenshot(subscriber, 'web-subscriber-phone');

    // A reload keeps the tab signed in and lists the current codes again.
    await subscriber.reload();
    await subscriber.locator('#status[data-state="live"]').waitFor();
    await subscriber.locator('#codes .code-card[data-id="1"]').waitFor();
    assert.equal(await subscriber.locator('#sign-in').isVisible(), false);
  });

  test('the subscriber page loses its connection, comes back, and ends with every code once', async () => {
    const ids = [1];
    const statsBefore = t.server.stats() as { connections: { opened: number }; deliveries: { replayed: number } };

    // 1. The network goes away (the browser knows it is offline).
    await subscriberContext.setOffline(true);
    await subscriber.locator('#status[data-state="offline"]').waitFor();
    assert.equal(await subscriber.textContent('#status-text'), 'Offline');
    for (const code of ['AWAY-1', 'AWAY-2', 'AWAY-3']) ids.push((await t.publish(code, { type: 'promo' })).id);
    await subscriber.waitForTimeout(300);
    assert.deepEqual(await shownIds(subscriber), [1], 'nothing can arrive while offline');
    await subscriberContext.setOffline(false);
    await subscriber.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
    await eventually(async () => (await shownIds(subscriber)).length === 4, 'the missed codes', 10_000);

    // 2. The server cuts the stream (as its sweeper does a stale one); codes keep coming.
    t.server.hub.closeUser(alice.id, 'stale');
    for (const code of ['CUT-1', 'CUT-2']) ids.push((await t.publish(code)).id);
    await eventually(async () => (await shownIds(subscriber)).length === 6, 'the codes published across the cut', 15_000);
    await subscriber.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });

    // 3. And live again.
    ids.push((await t.publish('BACK-1', { value: 7 })).id);
    await eventually(async () => (await shownIds(subscriber)).length === 7, 'a live code after the cuts', 10_000);

    const shown = await shownIds(subscriber);
    assert.deepEqual(
      shown,
      [...ids].sort((a, b) => b - a),
      'every code exactly once, newest first',
    );
    assert.equal(await subscriber.locator('#codes .badge.info').count(), 5, 'the codes published while away are marked as missed');

    const statsAfter = t.server.stats() as typeof statsBefore;
    assert.ok(statsAfter.connections.opened >= statsBefore.connections.opened + 2, 'the page reconnected twice');
    assert.ok(statsAfter.deliveries.replayed >= statsBefore.deliveries.replayed + 3, 'missed codes came by replay');
    await screenshot(subscriber, 'web-subscriber-after-reconnects');

    // 4. Away for longer than the history reaches: the server says `reset`,
    // and the page rebuilds its list from the API, still every code once.
    await subscriberContext.setOffline(true);
    await subscriber.locator('#status[data-state="offline"]').waitFor();
    for (let i = 1; i <= 7; i++) ids.push((await t.publish(`LONG-AWAY-${i}`)).id);
    await subscriberContext.setOffline(false);
    await subscriber.locator('#notice').waitFor({ state: 'visible', timeout: 15_000 });
    assert.match((await subscriber.textContent('#notice')) ?? '', /list was reloaded/);
    await eventually(async () => (await shownIds(subscriber)).length === ids.length, `${ids.length} codes after the reset`, 10_000);
    await subscriber.locator('#status[data-state="live"]').waitFor();
    assert.deepEqual(
      await shownIds(subscriber),
      [...ids].sort((a, b) => b - a),
      'every code exactly once after the reset',
    );
  });

  test('revoking a code in the admin page marks it revoked on the subscriber page', async () => {
    await admin.click('#tab-codes');
    const row = admin.locator('#codes-table tbody tr[data-id="2"]');
    await row.waitFor();
    await eventually(async () => (await admin.locator('#codes-table tbody tr').count()) === 14, 'a row per code', 5000);
    assert.match((await admin.locator('#codes-table tbody tr[data-id="1"]').textContent()) ?? '', /SUMMER-26.*Live/);
    const revoke = row.locator('button.danger');
    await revoke.click();
    assert.match((await revoke.textContent()) ?? '', /Confirm revoke/);
    await revoke.click();
    await row.locator('.badge.bad').waitFor();
    const card = subscriber.locator('#codes .code-card[data-id="2"]');
    await subscriber.locator('#codes .code-card.revoked[data-id="2"]').waitFor();
    assert.equal(await card.locator('.time-left').textContent(), 'Revoked: do not use');
    assert.equal(await card.locator('button.copy').isDisabled(), true);
    assert.equal((await t.api('GET', '/api/v1/codes/2')).body.code.revokedAt !== null, true);
    // alice's ack of the first code shows in its row.
    assert.match((await admin.locator('#codes-table tbody tr[data-id="1"] td').nth(7).textContent()) ?? '', /^1 · \d+ ms median$/);
    await screenshot(admin, 'web-admin-codes');
  });

  test('the admin page shows API errors as sentences: a duplicate, a self-disable', async () => {
    await admin.click('#tab-overview');
    await admin.fill('#publish-code', 'BACK-1');
    await admin.click('#publish-form button[type="submit"]');
    const error = admin.locator('#publish-error');
    await error.waitFor({ state: 'visible' });
    const text = (await error.textContent()) ?? '';
    assert.match(text, /published moments ago as id 7\.$/);
    assert.doesNotMatch(text, /[{}"]/, 'no raw JSON');

    await admin.click('#tab-users');
    const row = admin.locator('#users-table tr[data-user="admin"]');
    await row.waitFor();
    await row.locator('button.danger').click();
    await row.locator('button.danger').click();
    const usersError = admin.locator('#users-error');
    await usersError.waitFor({ state: 'visible' });
    assert.equal(await usersError.textContent(), 'An admin cannot disable or demote itself; ask another admin.');
  });

  test('disabling a user in the admin page signs the subscriber page out', async () => {
    const row = admin.locator('#users-table tr[data-user="alice"]');
    await row.locator('button.danger').click();
    await row.locator('button.danger').click();
    await row.locator('.badge.bad').waitFor();
    await subscriber.locator('#sign-in').waitFor({ state: 'visible' });
    assert.equal(await subscriber.textContent('#sign-in-error'), 'This user is disabled.');
    assert.equal(await subscriber.evaluate(() => sessionStorage.length), 0, 'the token is forgotten');
    await row.getByRole('button', { name: /Enable/ }).click();
    await admin.locator('#users-table tr[data-user="alice"] .badge.ok').waitFor();
  });

  test('settings and the audit trail', async () => {
    await admin.click('#tab-settings');
    await admin.locator('#setting-dedup').check();
    await admin.fill('#setting-default-value', '5');
    await admin.click('#settings-form button[type="submit"]');
    await admin.locator('#settings-message.success').waitFor();
    assert.deepEqual((await t.api('GET', '/api/v1/settings')).body, { dedupCaseInsensitive: true, defaultValue: 5 });

    await admin.click('#tab-audit');
    await admin.locator('#audit-table tbody tr').first().waitFor();
    const newest = (await admin.locator('#audit-table tbody tr').first().textContent()) ?? '';
    assert.match(newest, /Changed settings/);
    assert.match(newest, /after dedupCaseInsensitive: true/);
    assert.match((await admin.locator('#audit-table').textContent()) ?? '', /Revoked a code/);
    await screenshot(admin, 'web-admin-audit');
  });

  test("every view passes axe-core's WCAG 2 AA checks", async () => {
    const problems: string[] = [];
    const check = async (page: Page, view: string) => {
      for (const problem of await accessibilityProblems(page)) problems.push(`${view}: ${problem}`);
    };
    // The subscriber page signs in again after being signed out, and lists the current codes.
    await check(subscriber, 'subscriber sign-in');
    await subscriber.fill('#token', alice.token);
    await subscriber.click('#sign-in-form button[type="submit"]');
    await subscriber.locator('#status[data-state="live"]').waitFor();
    await subscriber.locator('#codes .code-card').first().waitFor();
    await check(subscriber, 'subscriber codes');

    for (const tab of ['overview', 'codes', 'users', 'settings', 'audit']) {
      await admin.click(`#tab-${tab}`);
      await admin.locator(`#panel-${tab} table tbody tr, #panel-${tab} form`).first().waitFor();
      if (tab === 'users') {
        await admin
          .locator('#users-table tr[data-user="alice"]')
          .getByRole('button', { name: /Tokens/ })
          .click();
        await admin.locator('#user-detail table').waitFor();
      }
      await check(admin, `admin ${tab}`);
    }
    const signedOut = await adminContext.newPage();
    await signedOut.goto(`${t.url}/admin`);
    await check(signedOut, 'admin sign-in (another tab: not signed in)');
    assert.equal(await signedOut.locator('#sign-in').isVisible(), true, 'sessionStorage belongs to one tab');
    await signedOut.close();
    assert.deepEqual(problems, []);
  });

  test('a token revoked in the admin page signs its page out; a new token is shown once', async () => {
    await admin.click('#tab-users');
    await admin
      .locator('#users-table tr[data-user="alice"]')
      .getByRole('button', { name: /Tokens/ })
      .click();
    const tokenRow = admin.locator('#user-detail tbody tr').first();
    await tokenRow.locator('.badge.ok').waitFor();
    await tokenRow.locator('button.danger').click();
    await tokenRow.locator('button.danger').click();
    await admin.locator('#user-detail tbody tr').first().locator('.badge.bad').waitFor();
    await subscriber.locator('#sign-in').waitFor({ state: 'visible' });
    assert.match((await subscriber.textContent('#sign-in-error')) ?? '', /no longer works/);

    await admin.fill('#token-label', 'phone');
    await admin.click('#user-detail form button[type="submit"]');
    // The panel may still show the user created earlier: wait for this token's heading.
    await admin.locator('#new-token h2', { hasText: 'New token: token for alice' }).waitFor();
    const fresh = (await admin.textContent('#new-token-value'))!.trim();
    await admin.locator('#user-detail tbody tr', { hasText: 'phone' }).waitFor();
    await admin.getByRole('button', { name: 'Done' }).click();
    assert.equal(await admin.locator('#new-token').isVisible(), false, 'gone once dismissed');
    alice.token = fresh;
    secrets.push(fresh);
    await subscriber.fill('#token', fresh);
    await subscriber.click('#sign-in-form button[type="submit"]');
    await subscriber.locator('#status[data-state="live"]').waitFor();
  });

  test('signing out while the recent codes load: the hidden list stays empty', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = pageErrors(page);
    const { token } = await t.createUser('leaving');
    await t.publish('RECENT-BEFORE-SIGN-OUT');
    let requested = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await context.route(/\/api\/v1\/codes\?/, async (route) => {
      requested++;
      await held;
      // Aborted by then, since the feed was closed: nothing to continue.
      await route.continue().catch(() => undefined);
    });
    await page.goto(`${t.url}/`);
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type="submit"]');
    await page.locator('#status[data-state="live"]').waitFor();
    await eventually(async () => requested === 1, 'the recent codes to be asked for');
    await page.click('#sign-out');
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    release();
    await page.waitForTimeout(500);
    assert.equal(await page.locator('#codes .code-card').count(), 0, 'none reached the list');
    assert.equal(await page.locator('#notice').getAttribute('hidden'), '', 'no notice of a load cut on purpose');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('no token ever appears in a URL, and the pages raised no errors', () => {
    const all = [...adminUrls, ...subscriberUrls];
    assert.ok(all.length > 10);
    for (const url of all) {
      for (const secret of secrets) assert.ok(!url.includes(secret), `a token in ${url}`);
      assert.ok(!/[?&]token=/.test(url), `a token parameter in ${url}`);
    }
    assert.deepEqual(adminErrors, []);
    assert.deepEqual(subscriberErrors, []);
  });
});

// The README's screenshots, with a minute of believable traffic behind the
// charts. Only when asked: UPDATE_SCREENSHOTS=1 node scripts/run-tests.mjs web-pages
if (process.env.UPDATE_SCREENSHOTS && chromiumAt.path) {
  describe('README screenshots', () => {
    test('docs/images: the admin page, the subscriber page on a desktop and on a phone', { timeout: 180_000 }, async () => {
      const { connectSubscriber } = await import('./support/clients.js');
      const t = await startTestServer({ CODECAST_HEARTBEAT_SECONDS: '5' });
      const browser = await launchChromium(chromiumAt.path!);
      const subscribers: Awaited<ReturnType<typeof connectSubscriber>>[] = [];
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      try {
        const names = [
          'alice',
          'bob',
          'carol',
          'dave',
          'erin',
          'frank',
          'grace',
          'heidi',
          'ivan',
          'judy',
          'mallory',
          'niaj',
          'olivia',
          'peggy',
          'rupert',
          'sybil',
          'trent',
          'victor',
          'walter',
          'yves',
        ];
        const tokens = new Map<string, string>();
        for (const name of names) tokens.set(name, (await t.createUser(name)).token);

        const adminPage = await (await browser.newContext({ viewport: { width: 1440, height: 1180 } })).newPage();
        await adminPage.goto(`${t.url}/admin`);
        await adminPage.fill('#token', t.adminToken);
        await adminPage.click('#sign-in-form button[type="submit"]');
        await adminPage.locator('#status[data-state="live"]').waitFor();

        const codes = [
          ['WINTER-DROP-5', 5, 'drop', 'Five gems for everyone online. Redeem in the shop.', 3600],
          ['FLASH-SALE-20', 20, 'promo', '20 % off all skins for the next 15 minutes.', 900],
          ['JOIN-7F3KQ', null, 'join', 'Join code for tonight’s tournament lobby.', 1800],
          ['EVENT-LIVE-42', null, 'event', 'The live event starts now: tune in.', 600],
          ['GIFT-9PZ4', 1, 'redeem', 'A small thank-you from the team.', 7200],
          ['BONUS-500', 500, 'drop', '500 bonus coins, first come first served.', 20],
          ['RAID-NIGHT', null, 'event', 'Raid night at 20:00 UTC. Bring friends.', 5400],
          ['LOOT-3M8T', 3, 'drop', null, 2700],
          ['DOUBLE-XP', 2, 'promo', 'Double XP for the next hour.', 3600],
        ] as const;
        const transports = ['sse', 'sse', 'ws', 'sse', 'socketio', 'ws', 'sse'] as const;
        let published = 0;
        let subscriberPage: Page | undefined;
        let phonePage: Page | undefined;
        for (let step = 0; step < 36; step++) {
          // Subscribers arrive (a few with a second tab), and some leave near the end.
          if (step < 24) {
            for (let i = 0; i < 2; i++) {
              const n = subscribers.length;
              const name = names[n % names.length]!;
              subscribers.push(await connectSubscriber(transports[n % transports.length]!, t.url, { token: tokens.get(name) }));
            }
          } else if (step > 30 && subscribers.length > 30) {
            await subscribers.pop()!.close();
          }
          if (step % 4 === 2 && published < codes.length - 1) {
            const [code, value, type, message, ttlSeconds] = codes[published++]!;
            const { id } = await t.publish(code, { value, type, message, ttlSeconds });
            // Subscribers ack as people do: some at once, some later, some never.
            for (const [i, subscriber] of subscribers.entries()) {
              if (i % 5 === 4) continue;
              setTimeout(() => void subscriber.ack(id).catch(() => {}), 80 + ((i * 397) % 2400));
            }
          }
          if (step === 12) {
            subscriberPage = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
            phonePage = await (
              await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
            ).newPage();
            for (const [page, name] of [
              [subscriberPage, 'alice'],
              [phonePage, 'bob'],
            ] as const) {
              await page.goto(`${t.url}/`);
              await page.fill('#token', tokens.get(name)!);
              await page.click('#sign-in-form button[type="submit"]');
              await page.locator('#status[data-state="live"]').waitFor();
            }
          }
          await sleep(2000);
        }
        await t.api('DELETE', '/api/v1/codes/3');

        // The last code through the form, its audience shown before and its figures after.
        const [code, value, type, message, ttl] = codes[codes.length - 1]!;
        await adminPage.click('#tab-overview');
        await adminPage.fill('#publish-code', code);
        await adminPage.fill('#publish-value', String(value));
        await adminPage.fill('#publish-type', type);
        await adminPage.fill('#publish-ttl', String(ttl / 60));
        await adminPage.fill('#publish-message', message ?? '');
        await adminPage.click('#publish-form button[type="submit"]');
        await adminPage.locator('#publish-result .success').waitFor();
        const last = (await t.api('GET', '/api/v1/codes?all=true&since=0&limit=100')).body.codes.at(-1).id as number;
        for (const [i, subscriber] of subscribers.entries()) if (i % 4 !== 3) void subscriber.ack(last).catch(() => {});
        await sleep(4500);
        await adminPage.fill('#publish-code', '');
        await adminPage.locator('#publish-code').blur();
        await adminPage.mouse.move(0, 0);
        await screenshot(adminPage, 'admin', 'docs/images');
        await subscriberPage!.mouse.move(0, 0);
        await subscriberPage!.screenshot({ path: 'docs/images/subscriber.png', animations: 'disabled', caret: 'hide' });
        await phonePage!.screenshot({ path: 'docs/images/subscriber-phone.png', animations: 'disabled', caret: 'hide' });
      } finally {
        await Promise.all(subscribers.map((s) => s.close()));
        await browser.close();
        await t.stop();
      }
    });
  });
}
