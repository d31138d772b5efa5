/**
 * Every pattern of the README has a copy-paste CLI line; this runs each of them, as written, against `durable dev
 * examples/app.ts` and checks what it prints. The lines are the README's (Patterns, "From the CLI"): a line changed
 * there must change here. `npx durable` runs this checkout's `bin/durable.mjs`, pointed at the server by DURABLE_URL.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../helpers/until.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin', 'durable.mjs');

/** Each README line and what its output must show. Lines of one pattern run in order. */
const LINES: ReadonlyArray<readonly [pattern: string, line: string, expect: RegExp]> = [
  ['chaining', `npx durable start helloSequence '["Tokyo","Seattle","London"]' --id hello-1`, /started hello-1/],
  ['chaining', 'npx durable status hello-1 --wait', /Completed[\s\S]*Hello Tokyo![\s\S]*Hello London!/],
  [
    'fan-out/fan-in',
    `npx durable start wordCount '["the quick brown fox","jumps over","the lazy dog"]' --id words-1`,
    /started words-1/,
  ],
  ['fan-out/fan-in', 'npx durable status words-1 --wait', /"total":9/],
  [
    'monitoring',
    `npx durable start monitorJob '{"jobId":"nightly-build","intervalMs":1000,"expiresAt":"2100-01-01T00:00:00Z"}' --id monitor-1`,
    /started monitor-1/,
  ],
  [
    'monitoring',
    'npx durable status monitor-1 --wait',
    /Completed[\s\S]*"status":"done","jobId":"nightly-build","checks":3/,
  ],
  [
    'human interaction',
    `npx durable start approval '{"requestId":"r-1","amount":250,"timeoutMs":600000}' --id approval-1`,
    /started approval-1/,
  ],
  ['human interaction', `npx durable raise approval-1 approval '{"approved":true,"by":"alice"}'`, /approval-1/],
  ['human interaction', 'npx durable status approval-1 --wait', /"status":"approved","requestId":"r-1","by":"alice"/],
  [
    'idempotent side effects',
    `npx durable start chargeOrder '{"orderId":"o-1","amount":1999,"card":"4242-4242-4242-4242"}' --id order-1`,
    /started order-1/,
  ],
  ['idempotent side effects', 'npx durable status order-1 --wait', /"status":"charged"[\s\S]*rcpt-1/],
  ['aggregation', 'npx durable signal counter@home add 5', /signalled counter@home add/],
  ['aggregation', `npx durable start recordViews '{"page":"home","views":3}' --id views-1`, /started views-1/],
  ['aggregation', 'npx durable status views-1 --wait', /output\s+8/],
  ['aggregation', 'npx durable entity get counter@home', /counter@home\s+8/],
  ['critical section', 'npx durable signal account@alice deposit 100', /signalled account@alice deposit/],
  [
    'critical section',
    `npx durable start transfer '{"from":"alice","to":"bob","amount":40}' --id transfer-1`,
    /started transfer-1/,
  ],
  ['critical section', 'npx durable status transfer-1 --wait', /Completed[\s\S]*output\s+ok/],
  ['critical section', `npx durable start auditTotal '["alice","bob"]' --id audit-1`, /started audit-1/],
  ['critical section', 'npx durable status audit-1 --wait', /"total":100,"balances":\{"alice":60,"bob":40\}/],
  ['a refused withdrawal', 'npx durable signal account@carol deposit 5', /signalled account@carol deposit/],
  [
    'a refused withdrawal',
    `npx durable start withdrawCash '{"account":"carol","amount":10}' --id withdraw-1`,
    /started withdraw-1/,
  ],
  ['a refused withdrawal', 'npx durable status withdraw-1 --wait', /"status":"insufficient-funds"/],
  [
    'a refused withdrawal',
    'npx durable entity get account@carol --json',
    /"state": 5,[\s\S]*"lastFailure"[\s\S]*"operation": "withdraw"/,
  ],
];

/** Runs one README line in a shell, `npx durable` being this checkout's CLI. */
function run(line: string, url: string): Promise<{ code: number; output: string }> {
  const script = `durable() { "${process.execPath}" "${bin}" "$@"; }\n${line.replace(/^npx durable/, 'durable')}`;
  return new Promise((resolve) => {
    execFile('sh', ['-c', script], { cwd: repoRoot, env: { ...process.env, DURABLE_URL: url } }, (error, out, err) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${out}${err}` }),
    );
  });
}

describe('the README’s CLI line for every pattern', function () {
  this.timeout(120_000);
  let dir: string;
  let server: ChildProcess;
  let url = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'durable-readme-'));
    server = spawn(process.execPath, [bin, 'dev', 'examples/app.ts', '--port', '0', '--data-dir', dir, '--quiet'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let banner = '';
    server.stdout?.on('data', (chunk: Buffer) => (banner += chunk.toString()));
    await until(() => /Durable dev — http:\/\/\S+/.test(banner), 'durable dev listens', 20_000);
    url = /Durable dev — (http:\/\/\S+)/.exec(banner)?.[1] ?? '';
  });

  after(async () => {
    if (server.exitCode === null) {
      server.kill('SIGINT');
      await once(server, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  // The patterns are independent: they run side by side (each CLI start costs a second or more), their lines in order.
  it('runs every pattern’s lines as written', async () => {
    const failures: string[] = [];
    await Promise.all(
      [...new Set(LINES.map(([p]) => p))].map(async (pattern) => {
        for (const [, line, expect] of LINES.filter(([p]) => p === pattern)) {
          const { code, output } = await run(line, url);
          if (code !== 0 || !expect.test(output)) return void failures.push(`${pattern}: ${line}\n${output}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
  });
});
