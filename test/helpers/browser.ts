/**
 * A real Chromium for the dashboard tests: Debian's (`/usr/bin/chromium`, or `CHROMIUM_PATH`), driven by
 * playwright-core. Without one, the tests fail under `CI=true` and are skipped (with the reason printed) elsewhere.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { repoRoot } from './dev-server.js';

export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/** Launches Chromium, or skips the suite (fails it under CI=true) when there is none. */
export async function launchBrowser(context: Mocha.Context): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    const reason = 'no Chromium: install it (apt-get install chromium) or set CHROMIUM_PATH';
    if (process.env.CI === 'true') throw new Error(`The browser tests need Chromium under CI: ${reason}.`);
    console.log(`    skipping the browser tests: ${reason}`);
    context.skip();
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({ executablePath, args: root ? ['--no-sandbox'] : [] });
}

/** A page whose uncaught errors and CSP violations fail the test that reads `errors`. */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      errors.push(message.text());
    }
  });
  return { context, page, errors };
}

/**
 * Saves a screenshot to test-artifacts/screenshots/ (every run), and also to `DURABLE_SCREENSHOTS` when set
 * (`npm run screenshots` points it at docs/screenshots, for the README).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  for (const dir of [join(repoRoot, 'test-artifacts', 'screenshots'), process.env.DURABLE_SCREENSHOTS]) {
    if (!dir) continue;
    const target = dir.startsWith('/') ? dir : join(repoRoot, dir);
    mkdirSync(target, { recursive: true });
    await page.screenshot({ path: join(target, `${name}.png`), fullPage: true });
  }
}
