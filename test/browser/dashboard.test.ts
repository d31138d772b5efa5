/// <reference lib="dom" />
/**
 * The dashboard in a real Chromium against a real `durable dev examples/app.ts`: start, raise an event, terminate,
 * the history timeline, redriving a dead letter, sign-in and scopes, an axe accessibility scan (light and dark), and
 * no sideways scrolling at 1280 and 390 pixels. Screenshots of each main page land in test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axe from 'axe-core';
import type { Browser, Page } from 'playwright-core';
import { parkApproval } from '../helpers/dead-letters.js';
import type { Dev } from '../helpers/dev-server.js';
import { startDev, stopDev } from '../helpers/dev-server.js';
import { launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { until } from '../helpers/until.js';

interface Status {
  readonly status: string;
}

async function api<T>(dev: Dev, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${dev.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.ok(response.ok, `${path}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as T;
}

async function statusOf(dev: Dev, id: string): Promise<string> {
  return (await api<Status>(dev, `/api/instances/${encodeURIComponent(id)}`)).status;
}

/** Starts an `approval` that waits (10 min) for its event, and resolves once it waits. */
async function waitingApproval(dev: Dev, id: string): Promise<void> {
  await api(dev, '/api/orchestrations/approval', {
    instanceId: id,
    input: { requestId: id, amount: 100, timeoutMs: 600_000 },
  });
  await until(
    async () => {
      const history = await api<{ events: { type: string }[] }>(dev, `/api/instances/${id}/history`);
      return history.events.some((e) => e.type === 'TaskCompleted');
    },
    `${id} waits for its event`,
    10_000,
  );
}

const PAGES = [
  { name: 'instances', hash: '#/instances', heading: 'Instances' },
  { name: 'instance', hash: '#/instances/ui-hello', heading: 'ui-hello' },
  { name: 'entities', hash: '#/entities', heading: 'Entities' },
  { name: 'dead-letters', hash: '#/dead-letters', heading: 'Dead letters' },
  { name: 'getting-started', hash: '#/start', heading: 'Getting started' },
] as const;

/** Moves to another page by its hash, as a link does (no reload), and waits until it has loaded. */
async function visit(page: Page, target: { hash: string; heading: string }): Promise<void> {
  await page.evaluate((hash) => (location.hash = hash), target.hash);
  await page.getByRole('heading', { level: 1, name: target.heading, exact: true }).waitFor();
  await page.waitForFunction(() => document.querySelector('[aria-busy="true"]') === null);
}

/** Opens a page and waits until what it shows has loaded (nothing is `aria-busy`). */
async function show(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('main h1').first().waitFor();
  await page.waitForFunction(() => document.querySelector('[aria-busy="true"]') === null);
}

describe('the dashboard in a browser', function () {
  this.timeout(60_000);
  let browser: Browser;
  let dev: Dev;

  before(async function () {
    browser = await launchBrowser(this);
    dev = await startDev({ args: ['--quiet'] });
    await api(dev, '/api/orchestrations/helloSequence', { instanceId: 'ui-hello', input: ['Tokyo', 'Oslo'] });
    await api(dev, '/api/entities/counter/ui/add', { input: 5 });
    await until(async () => (await statusOf(dev, 'ui-hello')) === 'Completed', 'ui-hello completes', 10_000);
  });

  after(async () => {
    await browser?.close();
    await stopDev(dev);
  });

  it('starts an orchestration from the list, which then shows it complete without a reload', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/instances`);
      await page.getByRole('button', { name: 'Start an orchestration' }).click();
      const dialog = page.getByRole('dialog', { name: 'Start an orchestration' });
      const orchestration = dialog.getByLabel('Orchestration');
      if ((await orchestration.evaluate((e) => e.tagName)) === 'SELECT') {
        await orchestration.selectOption('helloSequence');
      } else await orchestration.fill('helloSequence');
      await dialog.getByLabel('Input (JSON, optional)').fill('["Lima"');
      await dialog.getByText(/Invalid JSON/).waitFor();
      assert.equal(await dialog.getByRole('button', { name: 'Start' }).isDisabled(), true, 'invalid JSON is not sent');
      await dialog.getByLabel('Input (JSON, optional)').fill('["Lima"]');
      await dialog.getByLabel('Instance id (optional)').fill('ui-started');
      await dialog.getByRole('button', { name: 'Start' }).click();
      await page.getByRole('status').filter({ hasText: 'Started ui-started' }).waitFor();
      const row = page.locator('tr[data-instance="ui-started"]');
      await row.getByText('Completed').waitFor({ timeout: 15_000 });
      assert.deepEqual(await api(dev, '/api/instances/ui-started').then((s) => (s as { output: unknown }).output), [
        'Hello Lima!',
      ]);
      await screenshot(page, 'instances');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('raises the event a waiting approval consumes, and it completes', async () => {
    await waitingApproval(dev, 'ui-approval');
    const { context, page, errors } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/instances/ui-approval`);
      await page.getByRole('button', { name: 'Raise event' }).click();
      const dialog = page.getByRole('dialog', { name: 'Raise an event' });
      await dialog.getByLabel('Event name').fill('approval');
      await dialog.getByLabel('Payload (JSON)').fill('{"approved": true, "by": "ui"}');
      await dialog.getByRole('button', { name: 'Raise' }).click();
      await page.locator('.title-row .badge').getByText('Completed').waitFor({ timeout: 15_000 });
      const done = await api<{ output: { status: string; by: string } }>(dev, '/api/instances/ui-approval');
      assert.deepEqual([done.output.status, done.output.by], ['approved', 'ui']);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('terminates an instance with a reason', async () => {
    await waitingApproval(dev, 'ui-terminate');
    const { context, page } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/instances/ui-terminate`);
      await page.getByRole('button', { name: 'Terminate' }).click();
      const dialog = page.getByRole('dialog', { name: 'Terminate' });
      // Escape closes a dialog and sends nothing; focus went into it, as a keyboard user needs.
      await dialog.getByLabel('Reason (optional)').waitFor();
      assert.equal(await dialog.evaluate((d) => d.contains(document.activeElement)), true, 'focus is in the dialog');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await statusOf(dev, 'ui-terminate'), 'Running');
      await page.getByRole('button', { name: 'Terminate' }).click();
      await dialog.getByLabel('Reason (optional)').fill('not needed');
      await dialog.getByRole('button', { name: 'Terminate' }).click();
      await page.locator('.title-row .badge').getByText('Terminated').waitFor({ timeout: 15_000 });
      assert.equal(await statusOf(dev, 'ui-terminate'), 'Terminated');
    } finally {
      await context.close();
    }
  });

  it('shows the history as a timeline of bars with durations, a table and raw JSON', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/instances/ui-hello`);
      const bars = page.locator('.gantt-row.kind-activity');
      await bars.first().waitFor();
      assert.equal(await bars.count(), 2, 'one bar per sayHello');
      for (const took of await bars.locator('.gantt-took').allInnerTexts()) assert.match(took, /^\d+(\.\d)? (ms|s)$/);
      assert.equal(await page.locator('.gantt .bar.outcome-ok').count(), 2);
      await screenshot(page, 'instance');
      await page.getByRole('button', { name: 'Events' }).click();
      await page.getByRole('cell', { name: 'TaskScheduled' }).first().waitFor();
      await page.getByRole('button', { name: 'Raw JSON' }).click();
      await page.getByLabel('History as JSON').getByText('"ExecutionCompleted"').waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('pages through the instances an id search finds, 25 at a time, with Next and Previous', async () => {
    // A server of its own: 30 more instances would push the other tests' instances off the first page.
    const own = await startDev({ args: ['--quiet'] });
    const expected = Array.from({ length: 30 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
    for (const instanceId of expected) await api(own, '/api/orchestrations/helloSequence', { instanceId, input: [] });
    // Newer than those: the first page of an unfiltered list would show them.
    for (const instanceId of ['other-1', 'other-2']) {
      await api(own, '/api/orchestrations/helloSequence', { instanceId, input: [] });
    }
    const { context, page, errors } = await openPage(browser);
    const shown = (): Promise<string[]> =>
      page.locator('tr[data-instance]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-instance') ?? ''));
    const settled = async (count: number, what: string): Promise<string[]> => {
      await until(async () => (await shown()).length === count, what, 15_000);
      await page.waitForFunction(() => document.querySelector('[aria-busy="true"]') === null);
      return shown();
    };
    try {
      await show(page, `${own.url}/#/instances`);
      await page.getByLabel('Id starts with').fill('page-');
      // The search applies once typing pauses: it lands in the URL, and the list follows it.
      await page.waitForFunction(() => location.hash.includes('q=page-'));
      const first = await settled(25, 'the first page holds 25 of the 30');
      assert.ok(
        first.every((id) => id.startsWith('page-')),
        `only the ids the search finds: ${first.join(', ')}`,
      );
      await page.getByRole('button', { name: 'Next' }).click();
      const second = await settled(5, 'the second page holds the other 5');
      assert.deepEqual([...first, ...second].sort(), expected, 'every instance once, none twice');
      assert.equal(await page.getByRole('button', { name: 'Next' }).isDisabled(), true, 'no third page');
      await page.getByRole('button', { name: 'Previous' }).click();
      assert.deepEqual(await settled(25, 'back on the first page'), first);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await stopDev(own);
    }
  });

  it('follows links by hash, so deep links and the back button work', async () => {
    const { context, page } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/instances?name=helloSequence`);
      await page.getByRole('link', { name: 'ui-hello' }).click();
      await page.getByRole('heading', { name: 'ui-hello' }).waitFor();
      await page.goBack();
      await page.getByRole('heading', { name: 'Instances' }).waitFor();
      assert.equal(await page.getByLabel('Name').inputValue(), 'helloSequence', 'the filter came back with the URL');
    } finally {
      await context.close();
    }
  });

  it('lists the registered names and the CLI lines pointed at this server under Getting started', async () => {
    const { context, page } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/start`);
      for (const name of ['helloSequence', 'monitorJob', 'sayHello', 'chargeCard', 'counter', 'account']) {
        await page.locator('main code', { hasText: new RegExp(`^${name}$`) }).waitFor();
      }
      await page.getByText('(events: approval)').waitFor();
      const cli = await page.getByLabel('CLI lines').innerText();
      assert.ok(cli.includes(`npx durable start approval '<input JSON>' --id my-first --url ${dev.url}`), cli);
      assert.equal(
        await page.getByRole('link', { name: '/openapi.json' }).first().getAttribute('href'),
        '/openapi.json',
      );
    } finally {
      await context.close();
    }
  });

  it('redrives a dead letter, and the instance waiting for it completes', async () => {
    await waitingApproval(dev, 'ui-dead');
    const messageId = await parkApproval(join(dev.dir, 'durable.db'), 'ui-dead', 'ui');
    const { context, page } = await openPage(browser);
    try {
      await show(page, `${dev.url}/#/dead-letters`);
      const row = page.locator(`tr[data-message="${messageId}"]`);
      await row.getByRole('link', { name: 'ui-dead' }).waitFor();
      await row.getByText('parked by the test').waitFor();
      await screenshot(page, 'dead-letters');
      await row.getByRole('button', { name: `Redrive ${messageId}` }).click();
      await page.getByRole('status').filter({ hasText: 'Redriven 1 dead letter.' }).waitFor();
      await until(async () => (await statusOf(dev, 'ui-dead')) === 'Completed', 'ui-dead completes', 10_000);
    } finally {
      await context.close();
    }
  });

  it('has no serious or critical accessibility violations on any main page, light or dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      // bypassCSP only here: axe is injected as a script, which the dashboard's CSP (rightly) refuses.
      const { context, page } = await openPage(browser, { colorScheme, bypassCSP: true });
      try {
        await show(page, `${dev.url}/#/instances`);
        await page.addScriptTag({ content: axe.source });
        for (const { name, hash, heading } of PAGES) {
          await visit(page, { hash, heading });
          // Every rule in light; in dark, what the colours change (contrast), which keeps the suite short.
          const rules = colorScheme === 'dark' ? ['color-contrast'] : undefined;
          const violations = await page.evaluate(async (only) => {
            const scan = (window as unknown as { axe: typeof axe }).axe;
            const result = await scan.run(document, {
              resultTypes: ['violations'],
              ...(only ? { runOnly: { type: 'rule', values: only } } : {}),
            });
            return result.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
          }, rules);
          assert.deepEqual(violations, [], `${name} (${colorScheme})`);
          if (colorScheme === 'dark') await screenshot(page, `${name}-dark`);
          else if (name === 'entities' || name === 'getting-started') await screenshot(page, name);
        }
      } finally {
        await context.close();
      }
    }
  });

  it('never scrolls the page sideways, at 1280 and at 390 pixels', async () => {
    for (const width of [1280, 390]) {
      const { context, page } = await openPage(browser, { viewport: { width, height: 844 } });
      try {
        await show(page, `${dev.url}/#/instances`);
        for (const { name, hash, heading } of PAGES) {
          await visit(page, { hash, heading });
          const [scrollWidth, innerWidth] = await page.evaluate(() => [
            document.documentElement.scrollWidth,
            window.innerWidth,
          ]);
          assert.ok(scrollWidth <= innerWidth, `${name} at ${width} px: scrollWidth ${scrollWidth} > ${innerWidth}`);
          if (width === 390 && name === 'instance') await screenshot(page, 'instance-390');
        }
      } finally {
        await context.close();
      }
    }
  });
});

describe('the dashboard on a server that requires tokens', function () {
  this.timeout(60_000);
  const admin = 'admin-token-for-the-browser-test';
  const reader = 'read-only-token-for-the-browser-test';
  let browser: Browser;
  let dev: Dev;
  let tokens: string;

  before(async function () {
    browser = await launchBrowser(this);
    tokens = mkdtempSync(join(tmpdir(), 'durable-tokens-'));
    const file = join(tokens, 'tokens.json');
    const sha256 = createHash('sha256').update(reader).digest('hex');
    writeFileSync(file, JSON.stringify([{ name: 'viewer', scopes: ['read'], sha256 }]));
    dev = await startDev({ args: ['--quiet', '--tokens-file', file], env: { DURABLE_TOKEN: admin } });
    const response = await fetch(`${dev.url}/api/orchestrations/helloSequence`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ instanceId: 'secured', input: ['Rome'] }),
    });
    assert.equal(response.status, 201);
  });

  after(async () => {
    await browser?.close();
    await stopDev(dev);
    rmSync(tokens, { recursive: true, force: true });
  });

  async function signIn(page: Page, token: string): Promise<void> {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ state: 'detached' });
  }

  it('asks for a token, shows a read-only token no action, and an admin token every action', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(`${dev.url}/`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await screenshot(page, 'login');
      await page.getByLabel('Token').fill('not-the-right-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('That token is not valid.').waitFor();

      await signIn(page, reader);
      await page.locator('tr[data-instance="secured"]').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Start an orchestration' }).count(), 0);
      await page.goto(`${dev.url}/#/instances/secured`);
      await page.locator('.gantt').waitFor();
      assert.equal(await page.locator('.actions button').count(), 0, 'no action for a read-only token');
      assert.equal(
        await page.evaluate(() => location.href.includes('token') || document.cookie !== ''),
        false,
        'the token is in neither the URL nor a cookie',
      );

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(page, admin);
      // Back on the instance it showed, now with the admin's actions.
      await page.getByRole('button', { name: 'Restart' }).waitFor();
      await page.getByRole('button', { name: 'Purge' }).waitFor();
      await page.goto(`${dev.url}/#/instances`);
      await page.getByRole('button', { name: 'Start an orchestration' }).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('has a sign-in form without serious or critical accessibility violations, light or dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { context, page } = await openPage(browser, { colorScheme, bypassCSP: true });
      try {
        await page.goto(`${dev.url}/`);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await page.addScriptTag({ content: axe.source });
        const violations = await page.evaluate(async () => {
          const scan = (window as unknown as { axe: typeof axe }).axe;
          const result = await scan.run(document, { resultTypes: ['violations'] });
          return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
        });
        assert.deepEqual(violations, [], colorScheme);
        if (colorScheme === 'dark') await screenshot(page, 'login-dark');
      } finally {
        await context.close();
      }
    }
  });
});
