/**
 * `durable worker` as real OS processes: two of them share one SQLite file (with the SQLite lock) and run the
 * example app's orchestrations started by a separate client; the ops endpoints answer; SIGTERM drains and the
 * process exits 0. Every wait on a child is bounded; a child still running at the end of a test is killed.
 */
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import app from '../../examples/app.js';
import type { TempDatabaseFile } from '../fixtures/sqlite-files.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface WorkerChild {
  readonly process: ChildProcessWithoutNullStreams;
  /** Every JSON log line so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first log line whose `event` is `event` (fails if the child exits first or after `ms`). */
  waitFor(event: string, ms?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(dbPath: string, env: Record<string, string> = {}): WorkerChild {
  const child = spawn(process.execPath, ['bin/durable.mjs', 'worker', 'examples/app.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DURABLE_SQLITE_PATH: dbPath,
      DURABLE_LOCK: 'sqlite',
      DURABLE_DURABILITY: 'normal',
      DURABLE_OPS_HOST: '127.0.0.1',
      DURABLE_OPS_PORT: '0',
      DURABLE_LOG_LEVEL: 'info',
      ...env,
    },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ unparsed: line });
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const wake of waiters.splice(0)) wake();
      resolve({ code, signal });
    }),
  );
  return {
    process: child,
    lines,
    exited,
    async waitFor(event, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines.find((l) => l.event === event);
        if (found) return found;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          throw new Error(`worker never logged ${event}. stdout:\n${JSON.stringify(lines)}\nstderr:\n${stderr}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          waiters.push(() => (clearTimeout(timer), resolve()));
        });
      }
    },
  };
}

/** The value of a Prometheus sample such as `durable_turns_total{kind="orchestration"}` (0 when absent). */
function sample(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('durable worker processes', function () {
  this.timeout(90_000);
  let file: TempDatabaseFile;
  let workers: WorkerChild[] = [];
  let client: Host | undefined;

  beforeEach(async () => {
    file = await tempDatabaseFile();
    workers = [];
  });

  afterEach(async () => {
    for (const w of workers)
      if (w.process.exitCode === null && w.process.signalCode === null) w.process.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await client?.stop();
    client = undefined;
    await file.cleanup();
  });

  async function startClient(): Promise<Host> {
    const config = loadConfig({ DURABLE_SQLITE_PATH: file.path, DURABLE_LOCK: 'sqlite', DURABLE_DURABILITY: 'normal' });
    client = await startHost({ app, config, runWorker: false });
    return client;
  }

  it('completes 100 orchestrations with the right outputs on two workers sharing one SQLite file', async () => {
    workers = [startWorker(file.path), startWorker(file.path)];
    const addresses = await Promise.all(workers.map((w) => w.waitFor('worker.ops_listening')));
    const host = await startClient();
    const ids = await Promise.all(
      Array.from({ length: 100 }, (_, i) => host.client.start('helloSequence', [`A${i}`, `B${i}`, `C${i}`])),
    );
    const results = await Promise.all(ids.map((id) => host.client.waitForCompletion(id, { timeoutMs: 60_000 })));
    results.forEach((status, i) => {
      assert.equal(status.status, 'Completed', `${ids[i]} ended ${status.status}`);
      assert.deepEqual(status.output, [`Hello A${i}!`, `Hello B${i}!`, `Hello C${i}!`]);
    });

    // Each helloSequence commits 4 turns (start + 3 activity results): 400 in all, shared by the two workers.
    const scraped = await Promise.all(
      addresses.map(async (line) => (await fetch(`${String(line.address)}/metrics`)).text()),
    );
    const turns = scraped.map((text) => sample(text, 'durable_turns_total{kind="orchestration"}'));
    const activities = scraped.map((text) => sample(text, 'durable_messages_total{kind="activity"}'));
    assert.ok(turns.reduce((a, b) => a + b, 0) >= 400, `turns committed: ${turns.join(' + ')}`);
    // Both processes took part: the queue hands each message to one of them, and the SQLite lock kept their turns
    // on one instance apart (the outputs above are right).
    assert.ok(
      activities.every((n) => n > 0),
      `activities run per worker: ${activities.join(', ')}`,
    );

    for (const w of workers) w.process.kill('SIGTERM');
    const exits = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0],
    );
  });

  it('answers /healthz, /readyz and /metrics, and drains on SIGTERM with exit code 0', async () => {
    const worker = startWorker(file.path);
    workers = [worker];
    const address = String((await worker.waitFor('worker.ops_listening')).address);
    assert.equal((await fetch(`${address}/healthz`)).status, 200);
    const ready = await fetch(`${address}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: 'ok', queue: 'ok' } });

    const host = await startClient();
    const id = await host.client.start('helloSequence', ['Tokyo', 'Seattle']);
    const status = await host.client.waitForCompletion(id, { timeoutMs: 30_000 });
    assert.deepEqual(status.output, ['Hello Tokyo!', 'Hello Seattle!']);

    const response = await fetch(`${address}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const metrics = await response.text();
    assert.equal(sample(metrics, 'durable_turns_total{kind="orchestration"}'), 3);
    assert.equal(sample(metrics, 'durable_messages_total{kind="activity"}'), 2);
    assert.equal(sample(metrics, 'durable_queue_depth{queue="orchestrations",state="ready"}'), 0);
    assert.match(metrics, /^durable_process_cpu_seconds_total /m);

    worker.process.kill('SIGTERM');
    const exit = await worker.exited;
    assert.equal(exit.code, 0);
    const events = worker.lines.map((l) => l.event);
    assert.ok(events.includes('worker.drain_started') && events.includes('worker.drained'), events.join(', '));
    assert.ok(
      worker.lines.every((l) => typeof l.event === 'string'),
      'every log line names its event',
    );
  });
});
