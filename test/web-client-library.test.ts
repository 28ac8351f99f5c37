// The client library's browser build in headless Chromium, as the pages load
// it (`/assets/client/index.js` from the server): in a page over SSE and
// over WebSocket, and in the subscriber page itself — through a server that
// is SIGKILLed and started again on the same port and database while codes
// are being published. Every page ends with every code once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumForTests, eventually, launchChromium, pageErrors } from './support/browser.js';
import { killAll } from './support/cli-helpers.js';
import { KillableServer, PublishLoop } from './support/killable-server.js';
import { LIBRARY_TRANSPORTS } from './support/library-clients.js';

const chromiumAt = chromiumForTests();

/** What the page's subscription reported, kept on `window.recorded`. */
interface Recorded {
  codes: number[];
  replayed: number[];
  revokes: number[];
  states: string[];
  errors: string[];
}

/**
 * The library imported into a page of the server as a page's own script
 * would import it, subscribing with `token` over `transport`. The page is
 * the subscriber page, left signed out (its own stream does not run), so
 * the library runs under the pages' Content-Security-Policy.
 */
async function libraryPage(browser: Browser, url: string, token: string, transport: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${url}/`);
  await page.locator('#sign-in').waitFor();
  // A string, not a function: tsx would put helpers the page does not have into a function's source.
  await page.evaluate(`(async () => {
    const { subscribe } = await import('/assets/client/index.js');
    const recorded = { codes: [], replayed: [], revokes: [], states: [], errors: [] };
    window.recorded = recorded;
    window.subscription = subscribe({
      token: ${JSON.stringify(token)},
      transport: ${JSON.stringify(transport)},
      reconnect: { initialMs: 200, maxMs: 2000 },
      onCode(code, info) {
        recorded.codes.push(code.id);
        if (info.replayed) recorded.replayed.push(code.id);
      },
      onRevoke(id) { recorded.revokes.push(id); },
      onState(state) { recorded.states.push(state); },
      onError(error) { recorded.errors.push(error.code + (error.final ? ' (final)' : '')); },
    });
  })()`);
  return page;
}

async function recordedOf(page: Page): Promise<Recorded> {
  return (await page.evaluate('window.recorded')) as Recorded;
}

/** The ids of the subscriber page's code cards, top to bottom. */
function shownIds(page: Page): Promise<number[]> {
  return page.$$eval('#codes .code-card', (cards) => cards.map((card) => Number((card as HTMLElement).dataset.id)));
}

describe('the client library in Chromium', { skip: chromiumAt.skip }, () => {
  let server: KillableServer;
  let browser: Browser;
  before(async () => {
    server = await KillableServer.start({ CODECAST_HEARTBEAT_SECONDS: '1', CODECAST_SSE_RETRY_MS: '200' });
    browser = await launchChromium(chromiumAt.path!);
  });
  after(async () => {
    await browser?.close();
    await killAll();
    await server?.stop();
  });

  for (const transport of LIBRARY_TRANSPORTS) {
    test(`in a page over ${transport}: live codes, an ack, a revoke, and close()`, async () => {
      const token = await server.createUser(`page-${transport}`);
      const page = await libraryPage(browser, server.url, token, transport);
      try {
        await eventually(async () => (await recordedOf(page)).states.includes('live'), 'the page to be live');
        const published = await fetch(`${server.url}/api/v1/codes`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ code: `PAGE-${transport}` }),
        });
        const id = (await published.json()).code.id as number;
        await eventually(async () => (await recordedOf(page)).codes.includes(id), 'the code in the page');
        const answer = await page.evaluate(`window.subscription.ack(${id})`);
        if (transport === 'sse') assert.equal((answer as { first: boolean }).first, true, 'acked over HTTP');
        else assert.equal(answer, undefined, 'acked by a frame (no answer)');
        const revoked = await fetch(`${server.url}/api/v1/codes/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${server.adminToken}` },
        });
        assert.equal(revoked.status, 200);
        await eventually(async () => (await recordedOf(page)).revokes.includes(id), 'the revoke in the page');
        await page.evaluate('window.subscription.close()');
        const recorded = await recordedOf(page);
        assert.deepEqual(recorded.states, ['connecting', 'live', 'closed']);
        assert.deepEqual(recorded.errors, []);
      } finally {
        await page.close();
      }
    });
  }

  test('SIGKILLed and restarted mid-stream: the library’s pages and the subscriber page end with every code once', {
    timeout: 120_000,
  }, async () => {
    const pages: { transport: string; page: Page }[] = [];
    for (const transport of LIBRARY_TRANSPORTS) {
      pages.push({ transport, page: await libraryPage(browser, server.url, await server.createUser(`restart-${transport}`), transport) });
    }
    const subscriber = await browser.newPage();
    const subscriberErrors = pageErrors(subscriber);
    let publisher: PublishLoop | undefined;
    try {
      await subscriber.goto(`${server.url}/`);
      await subscriber.fill('#token', await server.createUser('restart-page'));
      await subscriber.click('#sign-in-form button[type="submit"]');
      await subscriber.locator('#status[data-state="live"]').waitFor();
      for (const { page } of pages) await eventually(async () => (await recordedOf(page)).states.includes('live'), 'the page to be live');
      const before = new Set(await server.codeIds());

      publisher = new PublishLoop(server, 'BROWSER-KILL');
      await publisher.waitForAccepted(10);
      await server.kill();
      const acceptedBeforeKill = publisher.accepted.length;
      await subscriber.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
      await server.restart();
      await publisher.waitForAccepted(acceptedBeforeKill + 10);
      await publisher.stop();

      const held = (await server.codeIds()).filter((id) => !before.has(id));
      for (const id of publisher.accepted) assert.ok(held.includes(id), `accepted code ${id} is held`);
      for (const { transport, page } of pages) {
        await eventually(
          async () => (await recordedOf(page)).codes.filter((id) => !before.has(id)).length >= held.length,
          `every code over ${transport}`,
          20_000,
        );
        const recorded = await recordedOf(page);
        assert.deepEqual(
          recorded.codes.filter((id) => !before.has(id)),
          held,
          `the page over ${transport}: every code once, in order`,
        );
        assert.ok(recorded.states.includes('reconnecting'), recorded.states.join(' → '));
        assert.equal(recorded.states.at(-1), 'live');
        assert.ok(!recorded.errors.some((e) => e.endsWith('(final)')), recorded.errors.join(', '));
      }
      await subscriber.locator('#status[data-state="live"]').waitFor({ timeout: 20_000 });
      const expected = [...held].sort((a, b) => b - a);
      await eventually(
        async () => (await shownIds(subscriber)).filter((id) => !before.has(id)).length >= held.length,
        'every code on the subscriber page',
        20_000,
      );
      assert.deepEqual(
        (await shownIds(subscriber)).filter((id) => !before.has(id)),
        expected,
        'the subscriber page: every code once, newest first',
      );
      assert.deepEqual(subscriberErrors, []);
    } finally {
      await publisher?.stop();
      await subscriber.close();
      for (const { page } of pages) await page.close();
    }
  });
});
