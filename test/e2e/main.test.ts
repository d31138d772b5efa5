/**
 * `npm run demo` end to end: the example program runs every pattern on the wall clock and exits 0.
 * This is the one e2e test that takes real time (about a second and a half).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a command to its end and collects its exit code and output. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('The examples program (npm run demo)', function () {
  this.timeout(15_000);

  it('runs every pattern on SQLite, prints each result and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'durable-main-'));
    const env = { ...process.env, DURABLE_SQLITE_PATH: join(dir, 'examples.db') };
    const { code, stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=durable-source', 'examples/main.ts'],
      env,
    ).finally(() => rmSync(dir, { recursive: true, force: true }));
    assert.match(stdout, /on SQLite \(.*durability full\)/);
    assert.equal(code, 0, `exit code ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    const expected: Array<[string, RegExp]> = [
      ['chaining', /Hello Tokyo! Hello Seattle! Hello London!/],
      ['fan-out/fan-in', /13 words in 3 documents/],
      ['monitoring', /nightly-build done after 4 checks \(generation 3\)/],
      ['human interaction (answered)', /approved by alice/],
      ['human interaction (silence)', /no answer within 300 ms, escalated \(1 escalation sent\)/],
      ['idempotent side effects', /order-1 charged \(rcpt-1\) after 3 attempts, 1 charge/],
      ['idempotent side effects', /order-2 declined: Card 4000-0000-0000-0002 was declined\. \(1 attempt\)/],
      ['aggregation', /counter@home: 105 views \(100 signals from the client \+ 5 from an orchestration\)/],
      [
        'critical section',
        /13 concurrent transfers among 3 accounts: 12 ok, 1 insufficient funds; total 300 before and 300 after/,
      ],
    ];
    for (const [pattern, result] of expected) {
      const line = stdout.split('\n').find((l) => l.startsWith(pattern) && result.test(l));
      assert.ok(line, `no line for ${pattern} matching ${String(result)} in:\n${stdout}`);
    }
    assert.match(stdout, /All patterns done in \d+ ms\./);
  });
});
