import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';

/**
 * Flags for Debian's Chromium in a container: no sandbox (we run as root),
 * no GPU, and nothing that reaches the network on its own. Playwright adds
 * a fresh `--user-data-dir` of its own for every launch (and refuses one in
 * `args`), so no profile is shared between runs.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Where test screenshots go: gitignored, kept by CI as artifacts. */
export const ARTIFACTS_DIR = 'test-artifacts';

/** The system Chromium (`which chromium`), or undefined when none is installed. Never downloads one. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  try {
    const path = execFileSync('which', ['chromium'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (path && existsSync(path)) return path;
  } catch {
    // `which` found nothing
  }
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
}

/**
 * What a browser test file should do about Chromium: run with its path, or
 * skip with a reason. In CI (`CI=true`) a missing Chromium is an error, so a
 * broken install can never pass as a skipped test.
 */
export function chromiumForTests(): { path: string; skip?: undefined } | { path?: undefined; skip: string } {
  const path = findChromium();
  if (path) return { path };
  const message = 'Chromium is not installed (apt-get install chromium); the browser tests need it.';
  if (process.env.CI === 'true') throw new Error(`${message} In CI this is a failure, not a skip.`);
  return { skip: message };
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
}

/** Saves a full-page screenshot under test-artifacts/ (or `dir`) and answers its path. */
export async function screenshot(page: Page, name: string, dir = ARTIFACTS_DIR): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}

/** Collects a page's console errors and uncaught exceptions, so a test can assert there were none. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    // Failed requests (a 401 on purpose, the network cut by a test) are logged
    // by the browser itself; only the page's own errors count here.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(`console: ${message.text()}`);
    }
  });
  return errors;
}

/** Waits until an async condition holds (polling every 50 ms); throws naming `what` on timeout. */
export async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let axeSource: string | undefined;

/**
 * Runs axe-core (WCAG 2 A and AA rules, and best practices) on what the page
 * (or one frame of it, such as the embed in another site's page) shows now,
 * and answers the serious and critical violations, one line each. It is
 * evaluated over the DevTools protocol, which the pages' CSP allows.
 */
export async function accessibilityProblems(page: Page | Frame): Promise<string[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate('typeof window.axe'))?.toString().includes('object')) await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] } }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) })))`,
  )) as { id: string; impact: string | null; help: string; targets: string[] }[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.targets.join(', ')}`);
}
