// Issue 9: every HTML page, the API docs included, carries a
// Content-Security-Policy, and the docs still work under theirs in
// headless Chromium (Debian's `chromium`, driven by playwright-core).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumForTests, launchChromium } from './support/browser.js';
import { startTestServer, type TestServer } from './support/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.stop());

describe('HTML pages carry a Content-Security-Policy', () => {
  test('the subscriber page, the admin page and the API docs', async () => {
    for (const path of [
      '/',
      '/admin',
      '/api/v1/docs',
      '/api/v1/docs/',
      '/api/v1/docs/static/index.html',
      '/api/v1/docs/static/oauth2-redirect.html',
    ]) {
      const res = await fetch(`${t.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, `${path}: ${csp}`);
      assert.match(csp, /script-src 'self'(;|$)/, `${path}: scripts from this origin only`);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-eval|script-src[^;]*unsafe-inline/, path);
    }
  });
});

const chromiumAt = chromiumForTests();

describe('the API docs under their CSP in headless Chromium', { skip: chromiumAt.skip }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium(chromiumAt.path as string);
  });
  after(() => browser?.close());

  test('render every operation, expand one and run it, with no CSP violation', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    try {
      await page.goto(`${t.url}/api/v1/docs`);
      await page.waitForSelector('.opblock', { timeout: 15_000 });
      assert.match((await page.textContent('.info .title')) ?? '', /codecast API/);
      assert.ok((await page.locator('.opblock').count()) >= 15, 'every operation is listed');
      // Expanding an operation renders its example with the syntax highlighter.
      const me = page.locator('.opblock', { hasText: '/api/v1/me' }).first();
      await me.locator('.opblock-summary').click();
      await me.locator('button.try-out__btn').click();
      await me.locator('button.execute').click();
      // The request reached this origin (connect-src) and its 401 is shown.
      const status = me.locator('.live-responses-table tbody .response-col_status').first();
      await status.waitFor({ timeout: 10_000 });
      assert.match((await status.textContent()) ?? '', /401/);
      const violations = problems.filter((p) => /Content Security Policy/i.test(p));
      assert.deepEqual(violations, [], 'no CSP violation');
      assert.deepEqual(problems, [], 'no other error');
    } finally {
      await page.close();
    }
  });
});
