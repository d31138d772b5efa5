/**
 * `durable worker` as real OS processes: two of them share one SQLite file (with the SQLite lock) and run the
 * example app's orchestrations started by a separate client; the ops endpoints answer; SIGTERM drains and the
 * process exits 0. Every wait on a child is bounded; a child still running at the end of a test is killed.
 */
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import app from '../../examples/app.js';
import type { TempDatabaseFile } from '../fixtures/sqlite-files.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';
import type { WorkerChild } from '../fixtures/worker-child.js';
import { metricSample, startWorkerChild } from '../fixtures/worker-child.js';

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
    for (const w of workers) if (w.running) w.process.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await client?.stop();
    client = undefined;
    await file.cleanup();
  });

  const startWorker = (): WorkerChild => startWorkerChild({ DURABLE_SQLITE_PATH: file.path, DURABLE_LOCK: 'sqlite' });

  async function startClient(): Promise<Host> {
    const config = loadConfig({ DURABLE_SQLITE_PATH: file.path, DURABLE_LOCK: 'sqlite', DURABLE_DURABILITY: 'normal' });
    client = await startHost({ app, config, runWorker: false });
    return client;
  }

  it('completes 100 orchestrations with the right outputs on two workers sharing one SQLite file', async () => {
    workers = [startWorker(), startWorker()];
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
    const turns = scraped.map((text) => metricSample(text, 'durable_turns_total{kind="orchestration"}'));
    const activities = scraped.map((text) => metricSample(text, 'durable_messages_total{kind="activity"}'));
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
    const worker = startWorker();
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
    assert.equal(metricSample(metrics, 'durable_turns_total{kind="orchestration"}'), 3);
    assert.equal(metricSample(metrics, 'durable_messages_total{kind="activity"}'), 2);
    assert.equal(metricSample(metrics, 'durable_queue_depth{queue="orchestrations",state="ready"}'), 0);
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
