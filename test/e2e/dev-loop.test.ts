/**
 * `durable dev` as a person runs it: the lines it prints while the example app runs (and none with `--quiet`), the
 * trace a failed entity operation leaves, the dashboard served at `/` over a real socket, and a clean non-zero exit when
 * it cannot start.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dev } from '../helpers/dev-server.js';
import { durableBin, repoRoot, startDev as startDevServer, stopDev } from '../helpers/dev-server.js';
import { until } from '../helpers/until.js';

const bin = durableBin;

/** `durable dev` on a free port with its data in `dir`. */
function startDev(dir: string, extra: string[] = []): Promise<Dev> {
  return startDevServer({ dir, args: extra });
}

/** Runs `durable dev` expected to refuse to start; resolves with its exit code and stderr (never hangs the test). */
function refusedDev(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, 'dev', 'examples/app.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 20_000, killSignal: 'SIGKILL' },
      (error, _stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
    );
  });
}

function cli(args: string[], url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args, '--url', url], { cwd: repoRoot }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${url}: ${response.status} ${await response.text()}`);
}

async function finished(url: string, id: string): Promise<void> {
  await until(
    async () => {
      const r = await fetch(`${url}/api/instances/${id}`);
      return r.ok && ['Completed', 'Failed'].includes(((await r.json()) as { status: string }).status);
    },
    `${id} finishes`,
    15_000,
  );
}

describe('durable dev, talking', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  let dev: Dev | undefined;
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'durable-devloop-'));
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    dev = await startDev(tempDir());
  });
  after(async () => {
    await stopDev(dev);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('prints a line when an orchestration starts, completes or fails, with its id and how long it took', async () => {
    const { url } = dev!;
    await post(`${url}/api/orchestrations/helloSequence`, { input: ['Tokyo', 'Oslo'], instanceId: 'hello-dev' });
    await post(`${url}/api/orchestrations/transfer`, {
      input: { from: 'alice', to: 'alice', amount: 5 },
      instanceId: 'oops-dev',
    });
    await until(
      () => /✗ failed.*oops-dev/.test(dev!.output()) && /✓ completed.*hello-dev/.test(dev!.output()),
      'lines',
    );
    const out = dev!.output();
    assert.match(out, /▶ started\s+helloSequence hello-dev/);
    assert.match(out, /✓ completed\s+helloSequence hello-dev\s+in \d+(\.\d)? m?s/);
    assert.match(out, /▶ started\s+transfer oops-dev/);
    assert.match(out, /✗ failed\s+transfer oops-dev\s+after \d+(\.\d)? m?s: TypeError: A transfer needs two different/);
    assert.ok(!out.includes('\x1b['), 'no colour when stdout is not a terminal');
  });

  it('shows a failed entity signal in the terminal and in `durable entity get`', async () => {
    const { url } = dev!;
    await post(`${url}/api/entities/counter/dev/add`, { input: 'lots' });
    await until(() => /✗ entity op\s+counter@dev add/.test(dev!.output()), 'the entity line');
    assert.match(
      dev!.output(),
      /counter@dev add\s+signal from client failed: TypeError: counter dev: cannot add "lots"/,
    );
    const got = await cli(['entity', 'get', 'counter@dev'], url);
    assert.notEqual(got.code, 0, 'the counter has no state');
    assert.match(got.stderr, /last operation, add \(a signal from client, .*\), failed: TypeError: counter dev/);
    await post(`${url}/api/entities/counter/dev/add`, { input: 2 });
    await until(async () => (await fetch(`${url}/api/entities/counter/dev`)).ok, 'the counter has state');
    const json = await cli(['entity', 'get', 'counter@dev', '--json'], url);
    const entity = JSON.parse(json.stdout) as { state: number; lastFailure: { operation: string; error: object } };
    assert.equal(entity.state, 2);
    assert.equal(entity.lastFailure.operation, 'add');
  });

  it('serves the dashboard at / (a shell whose script and stylesheet it also serves) under a strict CSP', async () => {
    const response = await fetch(`${dev!.url}/`);
    assert.equal(response.status, 200);
    assert.match(String(response.headers.get('content-type')), /^text\/html/);
    assert.match(String(response.headers.get('content-security-policy')), /default-src 'self'; script-src 'self'/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const etag = response.headers.get('etag');
    assert.ok(etag, 'an ETag');
    assert.equal((await fetch(`${dev!.url}/`, { headers: { 'if-none-match': etag } })).status, 304);
    const html = await response.text();
    assert.doesNotMatch(
      html,
      /<script>|<style|style="|src="http|href="http/,
      'no inline script or style, nothing remote',
    );
    assert.match(html, /<noscript>.*href="\/openapi.json"/s);
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(assets.map((a) => /\.(\w+)$/.exec(a)?.[1]).sort(), ['css', 'js', 'svg']);
    for (const asset of assets) {
      const got = await fetch(`${dev!.url}${asset}`);
      assert.equal(got.status, 200, asset);
      assert.equal(got.headers.get('cache-control'), 'public, max-age=31536000, immutable', asset);
    }
    assert.equal((await fetch(`${dev!.url}/assets/nope-123.js`)).status, 404);
    // The start page's content lives on in the dashboard's Getting started panel, from the API.
    assert.match(dev!.output(), new RegExp(`dashboard\\s+${dev!.url}/`));
  });

  it('prints none of these lines with --quiet', async () => {
    const quiet = await startDev(tempDir(), ['--quiet']);
    try {
      await post(`${quiet.url}/api/orchestrations/helloSequence`, { input: ['Lima'], instanceId: 'hello-quiet' });
      await post(`${quiet.url}/api/orchestrations/transfer`, {
        input: { from: 'a', to: 'a', amount: 1 },
        instanceId: 'oops-quiet',
      });
      await finished(quiet.url, 'hello-quiet');
      await finished(quiet.url, 'oops-quiet');
      assert.match(quiet.output(), /Durable dev/);
      assert.doesNotMatch(quiet.output(), /started|completed|failed|hello-quiet|oops-quiet/);
    } finally {
      await stopDev(quiet);
    }
  });

  it('exits 1 with a clear message when its port is in use', async () => {
    const port = new URL(dev!.url).port;
    const refused = await refusedDev(['--port', port, '--data-dir', tempDir()]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is in use`));
  });

  it('stops on Ctrl-C once running work has finished, and exits 0', async () => {
    const running = dev!;
    await post(`${running.url}/api/orchestrations/helloSequence`, { input: ['Quito'], instanceId: 'hello-stop' });
    await stopDev(running);
    assert.equal(running.proc.exitCode, 0, running.output().slice(-2000));
    assert.match(running.output(), /stopping… \(Ctrl-C again to stop at once\)/);
  });

  it('exits 2 naming the entry and the field when the tokens file is bad, before opening anything', async () => {
    const dir = tempDir();
    const file = join(dir, 'tokens.json');
    writeFileSync(file, JSON.stringify([{ name: 'ci', scopes: ['read', 'sudo'], sha256: 'a'.repeat(64) }]));
    const refused = await refusedDev(['--port', '0', '--data-dir', dir, '--tokens-file', file]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /entry 0 \("ci"\), field "scopes"/);
    assert.equal(existsSync(join(dir, 'durable.db')), false, 'no database was opened');
  });

  it('requires a token from its tokens file on loopback, with the scopes `durable token create` gave it', async () => {
    const dir = tempDir();
    const create = (name: string, scopes: string) =>
      new Promise<{ token: string; entry: unknown }>((resolve, reject) => {
        execFile(process.execPath, [bin, 'token', 'create', '--name', name, '--scopes', scopes], (error, stdout) => {
          if (error) return reject(new Error(error.message));
          const lines = stdout.trim().split('\n');
          resolve({ token: /^token +(\S+)/.exec(lines[0] ?? '')?.[1] ?? '', entry: JSON.parse(lines.at(-1) ?? '') });
        });
      });
    const reader = await create('dashboard', 'read');
    const file = join(dir, 'tokens.json');
    writeFileSync(file, JSON.stringify([reader.entry]));
    const guarded = await startDev(dir, ['--tokens-file', file]);
    try {
      assert.match(guarded.output(), /auth +1 token\(s\); every request needs one/);
      assert.equal((await fetch(`${guarded.url}/api/instances`)).status, 401);
      const whoami = await fetch(`${guarded.url}/api/whoami`, { headers: { authorization: `Bearer ${reader.token}` } });
      assert.deepEqual(await whoami.json(), { scopes: ['read'], name: 'dashboard', authRequired: true });
      const listed = await cli(['list', '--token', reader.token], guarded.url);
      assert.equal(listed.code, 0, listed.stderr);
      const started = await cli(['start', 'helloSequence', '["x"]', '--token', reader.token], guarded.url);
      assert.equal(started.code, 1);
      assert.match(started.stderr, /lacks the 'write' scope/);
    } finally {
      await stopDev(guarded);
    }
  });

  it('exits 2 when DURABLE_TOKEN is too short, before opening anything', async () => {
    const dir = tempDir();
    const refused = await refusedDev(['--port', '0', '--data-dir', dir], { DURABLE_TOKEN: 'short' });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /DURABLE_TOKEN is 5 characters long; it must have at least 16/);
    assert.equal(existsSync(join(dir, 'durable.db')), false, 'no database was opened');
  });
});
