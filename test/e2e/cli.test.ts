/**
 * `durable dev` as a child process, driven by the `durable` CLI over HTTP: the way a person uses Durable.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parkApproval } from '../helpers/dead-letters.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin', 'durable.mjs');

function durable(args: string[], url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args, '--url', url], { cwd: repoRoot }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('durable dev and the CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let server: ChildProcess;
  let url = '';
  let banner = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'durable-cli-'));
    server = spawn(process.execPath, [bin, 'dev', 'examples/app.ts', '--port', '0', '--data-dir', dir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on('data', (chunk: Buffer) => {
        banner += chunk.toString();
        const match = /Durable dev — (http:\/\/[^\s]+)/.exec(banner);
        if (match?.[1] && banner.includes('Ctrl-C')) {
          url = match[1];
          resolve();
        }
      });
      server.once('exit', (code) => reject(new Error(`durable dev exited with ${code}`)));
    });
  });

  after(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a banner with the URL, the data directory and the registered names', () => {
    assert.match(banner, /http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(banner.includes(join(dir, 'durable.db')), banner);
    assert.match(banner, /orchestrations .*helloSequence/);
    assert.match(banner, /approval \(events: approval\)/);
    assert.match(banner, /activities .*sayHello/);
    assert.match(banner, /entities .*counter/);
  });

  it('starts an orchestration, follows it to the end and shows its output, list entry and history', async () => {
    const started = await durable(['start', 'helloSequence', '["Tokyo","Oslo"]', '--id', 'cli-hello'], url);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /started cli-hello/);
    const status = await durable(['status', 'cli-hello', '--wait'], url);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /status\s+Completed/);
    assert.match(status.stdout, /Hello Tokyo!/);
    const json = await durable(['status', 'cli-hello', '--json'], url);
    assert.deepEqual((JSON.parse(json.stdout) as { output: string[] }).output, ['Hello Tokyo!', 'Hello Oslo!']);
    const list = await durable(['list', '--name', 'helloSequence'], url);
    assert.match(list.stdout, /cli-hello\s+helloSequence\s+Completed/);
    const history = await durable(['history', 'cli-hello'], url);
    assert.match(history.stdout, /ExecutionStarted/);
    assert.match(history.stdout, /ExecutionCompleted/);
  });

  it('raises an event that an approval is waiting for', async () => {
    await durable(
      ['start', 'approval', '{"requestId":"r1","amount":5,"timeoutMs":60000}', '--id', 'cli-approval'],
      url,
    );
    const raised = await durable(['raise', 'cli-approval', 'approval', '{"approved":true,"by":"cli"}'], url);
    assert.equal(raised.code, 0, raised.stderr);
    const status = await durable(['status', 'cli-approval', '--wait', '--json'], url);
    assert.equal((JSON.parse(status.stdout) as { output: { by: string } }).output.by, 'cli');
  });

  it('says what a waiting approval waits for, shows its timer as a date, and fails status --wait once terminated', async () => {
    const id = 'cli-waiting';
    await durable(['start', 'approval', '{"requestId":"r3","amount":5,"timeoutMs":3600000}', '--id', id], url);
    let status = '';
    for (let i = 0; i < 50 && !/an event, or its timeout/.test(status); i++) {
      status = (await durable(['status', id], url)).stdout;
      if (!/an event, or its timeout/.test(status)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(
      status,
      /^waiting for\s+an event, or its timeout at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(in \d+m\d\ds\)$/m,
    );

    const history = await durable(['history', id], url);
    assert.match(history.stdout, /^#\s+\+TIME\s+AT\s+EVENT\s+SEQ\s+DETAIL\s+TOOK/);
    assert.match(history.stdout, /TaskCompleted\s+0\s+requestApproval\s+\d+ms$/m);
    assert.match(history.stdout, /TimerCreated\s+1\s+event timeout at \d{4}-\d\d-\d\dT[\d:.]+Z \(in 1h00m\)/);

    const running = await durable(['list', '--status', 'running'], url);
    assert.equal(running.code, 0, running.stderr);
    assert.match(running.stdout, new RegExp(`^${id}\\s+approval\\s+Running`, 'm'));

    assert.equal((await durable(['terminate', id, 'no longer needed'], url)).code, 0);
    const waited = await durable(['status', id, '--wait'], url);
    assert.equal(waited.code, 1, 'a terminated instance fails status --wait');
    assert.match(waited.stdout, /status\s+Terminated/);
    assert.match(waited.stdout, /no longer needed/);
  });

  it('signals an entity and reads its state', async () => {
    const signalled = await durable(['signal', 'counter@cli', 'add', '5'], url);
    assert.equal(signalled.code, 0, signalled.stderr);
    let state = '';
    for (let i = 0; i < 50 && !state.includes('5'); i++) {
      state = (await durable(['entity', 'get', 'counter@cli'], url)).stdout;
      if (!state.includes('5')) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(state, /counter@cli\s+5/);
  });

  it('lists dead letters and kicks them back by id or all at once, so the instances waiting for them complete', async () => {
    const input = '{"requestId":"r2","amount":5,"timeoutMs":86400000}';
    for (const id of ['cli-dead-1', 'cli-dead-2']) {
      assert.equal((await durable(['start', 'approval', input, '--id', id], url)).code, 0);
    }
    const file = join(dir, 'durable.db');
    const first = await parkApproval(file, 'cli-dead-1', 'kick');
    const second = await parkApproval(file, 'cli-dead-2', 'kick-all');

    const listed = await durable(['dead-letters'], url);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^QUEUE\s+MESSAGE\s+INSTANCE\s+REASON/);
    assert.match(listed.stdout, /orchestrations\s+cli-dead-1\/event\/parked-kick\s+cli-dead-1\s+parked by the test/);
    const json = await durable(['dead-letters', '--queue', 'orchestrations', '--json'], url);
    const items = (JSON.parse(json.stdout) as { items: { messageId: string }[] }).items;
    assert.deepEqual(
      items.map((d) => d.messageId),
      [first, second],
    );
    assert.match((await durable(['dead-letters', '--queue', 'activities'], url)).stdout, /^no dead letters/);

    const kicked = await durable(['kick', first, 'no-such-message'], url);
    assert.equal(kicked.code, 0, kicked.stderr);
    assert.match(kicked.stdout, /^redriven 1 dead letter\n/);
    assert.match(kicked.stdout, /not dead letters: no-such-message/);
    const one = await durable(['status', 'cli-dead-1', '--wait', '--json'], url);
    assert.equal((JSON.parse(one.stdout) as { output: { by: string } }).output.by, 'kick');

    const all = await durable(['kick', '--all', '--queue', 'orchestrations', '--json'], url);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout), { redriven: [{ queue: 'orchestrations', messageIds: [second] }] });
    const two = await durable(['status', 'cli-dead-2', '--wait', '--json'], url);
    assert.equal((JSON.parse(two.stdout) as { output: { by: string } }).output.by, 'kick-all');
    assert.match((await durable(['dead-letters'], url)).stdout, /^no dead letters/);
  });

  it('refuses kick without message ids or --all, or with both, and an unknown queue, with one clear line', async () => {
    const neither = await durable(['kick'], url);
    assert.equal(neither.code, 2);
    assert.equal(neither.stderr.trim().split('\n').length, 1);
    assert.match(neither.stderr, /^durable: .*--all/);
    const both = await durable(['kick', 'some-id', '--all'], url);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^durable: Give message ids or --all, not both/);
    const badQueue = await durable(['dead-letters', '--queue', 'nope'], url);
    assert.equal(badQueue.code, 1);
    assert.equal(badQueue.stderr.trim().split('\n').length, 1);
    assert.match(badQueue.stderr, /^durable: .*queue/);
  });

  it('prints one clear line and exits non-zero on errors', async () => {
    const missing = await durable(['status', 'no-such-instance'], url);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    assert.match(missing.stderr, /^durable: .*no-such-instance/);
    const unknown = await durable(['start', 'noSuchOrchestration'], url);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /noSuchOrchestration/);
    const usage = await durable(['frobnicate'], url);
    assert.equal(usage.code, 2);
    const badJson = await durable(['start', 'helloSequence', '{not json'], url);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /must be JSON/);
  });

  it('stops cleanly on Ctrl-C', async () => {
    const exited = once(server, 'exit');
    server.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
  });
});

describe('durable dev --watch', function () {
  this.timeout(60_000);

  it('reloads the app when its file changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'durable-watch-'));
    const appFile = join(dir, 'app.ts');
    const index = join(repoRoot, 'src', 'index.ts');
    const write = (name: string): void =>
      writeFileSync(
        appFile,
        `import { defineApp } from ${JSON.stringify(index)};\n` +
          `export default defineApp({ orchestrations: { async ${name}() { return '${name}'; } } });\n`,
      );
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    write('firstVersion');
    const server = spawn(
      process.execPath,
      [bin, 'dev', appFile, '--watch', '--port', '0', '--data-dir', join(dir, 'data')],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    const seen = (pattern: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} in:\n${output}`)), 30_000);
        const check = (): void => {
          if (!pattern.test(output)) return;
          clearTimeout(timer);
          server.stdout?.off('data', onData);
          resolve();
        };
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          check();
        };
        server.stdout?.on('data', onData);
        check();
      });
    try {
      await seen(/orchestrations firstVersion/);
      write('secondVersion');
      await seen(/change detected: restarting/);
      await seen(/orchestrations secondVersion/);
      const exited = once(server, 'exit');
      server.kill('SIGINT');
      await exited;
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
