/**
 * The worker process in-process: readiness and draining as the ops server reports them, the drain deadline,
 * the metrics counted from log events, and the worker's settings from flags and variables.
 */
import assert from 'node:assert/strict';
import { loadConfig, loadWorkerSettings } from '../../src/config/config.js';
import { defineApp } from '../../src/index.js';
import { countingLogger } from '../../src/host/counting-logger.js';
import { LOG_EVENTS } from '../../src/observability/log-events.js';
import type { Logger } from '../../src/observability/logger.js';
import { createWorkerMetrics } from '../../src/observability/metrics.js';
import { createOpsServer } from '../../worker/ops-server.js';
import { parseWorkerArgs } from '../../worker/options.js';
import { checkBackends } from '../../worker/readiness.js';
import type { WorkerProcess } from '../../worker/worker-process.js';
import { startWorkerProcess } from '../../worker/worker-process.js';

function recordingLogger(): Logger & { readonly lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = (fields: Record<string, unknown>): void => void lines.push(fields);
  return { lines, debug: log, info: log, warn: log, error: log };
}

/** One sample's value; a histogram's samples are named `<name>_count`, `<name>_sum` and `<name>_bucket`. */
async function value(metrics: ReturnType<typeof createWorkerMetrics>, name: string, labels = {}): Promise<number> {
  const samples = (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
    m.values.map((v) => ({ ...v, name: (v as { metricName?: string }).metricName ?? m.name })),
  );
  const match = samples.find((v) => v.name === name && JSON.stringify(v.labels) === JSON.stringify(labels));
  return match?.value ?? 0;
}

describe('durable worker: readiness, drain and metrics', function () {
  this.timeout(20_000);

  it('reports not ready, with the reason, when the store does not answer within the deadline', async () => {
    const ops = createOpsServer({
      registry: createWorkerMetrics({ processMetrics: false }).registry,
      readiness: () =>
        checkBackends(
          {
            store: { get: () => new Promise(() => undefined) },
            queue: { depth: () => Promise.resolve({ ready: 0, delayed: 0, reserved: 0, dead: 0 }) },
          },
          50,
        ),
      draining: () => false,
    });
    const response = await ops.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.deepEqual(response.json(), {
      status: 'unavailable',
      checks: { store: 'no answer within 50 ms', queue: 'ok' },
    });
    assert.equal((await ops.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    await ops.close();
  });

  it('reports not ready as soon as a drain begins, even with healthy backends', async () => {
    const ops = createOpsServer({
      registry: createWorkerMetrics({ processMetrics: false }).registry,
      readiness: () => Promise.resolve({ ready: true, checks: { store: 'ok', queue: 'ok' } }),
      draining: () => true,
    });
    const response = await ops.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.deepEqual(response.json(), { status: 'draining' });
    await ops.close();
  });

  describe('draining a worker with an activity in flight', () => {
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const activityStarted = new Promise<void>((resolve) => (started = resolve));
    const app = defineApp({
      activities: {
        async slow(): Promise<string> {
          started();
          await new Promise<void>((resolve) => (release = resolve));
          return 'done';
        },
      },
      orchestrations: {
        async waitsForSlow(ctx): Promise<string> {
          return ctx.callActivity('slow', null);
        },
      },
    });
    let worker: WorkerProcess | undefined;

    afterEach(async () => {
      release();
      await worker?.drain();
    });

    it('gives up after the drain deadline, logging it, while the activity still runs', async () => {
      const logger = recordingLogger();
      worker = await startWorkerProcess({
        app,
        config: loadConfig({ DURABLE_BACKEND: 'memory' }),
        settings: loadWorkerSettings({
          DURABLE_OPS_HOST: '127.0.0.1',
          DURABLE_OPS_PORT: '0',
          DURABLE_DRAIN_TIMEOUT_MS: '100',
        }),
        logger,
      });
      await worker.host.client.start('waitsForSlow', null);
      await activityStarted;
      assert.equal(await worker.drain(), 'timeout');
      const timeout = logger.lines.find((l) => l.event === 'worker.drain_timeout');
      assert.equal(timeout?.workerIdle, false);
      assert.equal(
        logger.lines.find((l) => l.event === 'worker.drained'),
        undefined,
      );
    });
  });

  it('drains completely when nothing is running, and a second drain returns the same outcome', async () => {
    const logger = recordingLogger();
    const worker = await startWorkerProcess({
      app: defineApp({ orchestrations: {} }),
      config: loadConfig({ DURABLE_BACKEND: 'memory' }),
      settings: loadWorkerSettings({ DURABLE_OPS_HOST: '127.0.0.1', DURABLE_OPS_PORT: '0' }),
      logger,
    });
    const first = worker.drain();
    assert.equal(worker.drain(), first);
    assert.equal(await first, 'drained');
    assert.ok(logger.lines.some((l) => l.event === 'worker.drained'));
    await assert.rejects(fetch(`${worker.opsAddress}/healthz`), 'the ops server is closed');
  });

  it('counts turns, conflicts, busy locks, activity failures and retries from the log events', async () => {
    const metrics = createWorkerMetrics({ processMetrics: false });
    const inner = recordingLogger();
    const logger = countingLogger(inner, metrics);
    logger.debug({ event: LOG_EVENTS.turnCommitted, instanceId: 'o1', messages: 2 });
    logger.debug({ event: LOG_EVENTS.turnCommitted, instanceId: 'o1', messages: 0, consumed: 5, durationMs: 20 });
    logger.debug({ event: LOG_EVENTS.entityTurnCommitted, instanceId: 'counter@a', messages: 3 });
    logger.warn({ event: LOG_EVENTS.turnConflict, instanceId: 'counter@a' });
    logger.warn({ event: LOG_EVENTS.turnConflict, instanceId: 'o1' });
    logger.debug({ event: LOG_EVENTS.lockBusy, messages: 4 });
    logger.debug({ event: LOG_EVENTS.activityCompleted, instanceId: 'o1', activity: 'a', attempt: 1 });
    logger.warn({ event: LOG_EVENTS.activityFailed, instanceId: 'o1', activity: 'a', attempt: 2, error: 'x' });
    logger.error({ event: LOG_EVENTS.nonDeterminism, instanceId: 'o2' });

    assert.equal(await value(metrics, 'durable_turns_total', { kind: 'orchestration' }), 2);
    assert.equal(await value(metrics, 'durable_messages_total', { kind: 'orchestration' }), 5);
    assert.equal(await value(metrics, 'durable_turn_duration_seconds_count', { kind: 'orchestration' }), 1);
    assert.equal(await value(metrics, 'durable_turns_total', { kind: 'entity' }), 1);
    assert.equal(await value(metrics, 'durable_messages_total', { kind: 'entity' }), 3);
    assert.equal(await value(metrics, 'durable_messages_total', { kind: 'activity' }), 2);
    assert.equal(await value(metrics, 'durable_version_conflicts_total', { kind: 'entity' }), 1);
    assert.equal(await value(metrics, 'durable_version_conflicts_total', { kind: 'orchestration' }), 1);
    assert.equal(await value(metrics, 'durable_lock_busy_messages_total'), 4);
    assert.equal(await value(metrics, 'durable_activity_failures_total'), 1);
    assert.equal(await value(metrics, 'durable_activity_retries_total'), 1);
    assert.equal(await value(metrics, 'durable_turn_failures_total', { reason: 'non_determinism' }), 1);
    assert.equal(inner.lines.length, 9, 'every line still reaches the logger underneath');
  });

  it('keeps two workers’ metrics apart in one process', async () => {
    const a = createWorkerMetrics({ processMetrics: false });
    const b = createWorkerMetrics({ processMetrics: false });
    a.turns.inc({ kind: 'orchestration' });
    assert.equal(await value(a, 'durable_turns_total', { kind: 'orchestration' }), 1);
    assert.equal(await value(b, 'durable_turns_total', { kind: 'orchestration' }), 0);
  });

  it('takes flags over environment variables and rejects bad values naming the variable', () => {
    const { config, settings } = parseWorkerArgs(
      ['app.ts', '--lock', 'sqlite', '--ops-port', '0', '--serves', 'orchestrations'],
      { DURABLE_LOCK: 'memory', DURABLE_OPS_PORT: '9000', DURABLE_DRAIN_TIMEOUT_MS: '5000' },
    );
    assert.equal(config.lock, 'sqlite');
    assert.equal(settings.app, 'app.ts');
    assert.equal(settings.opsPort, 0);
    assert.equal(settings.drainTimeoutMs, 5000);
    assert.deepEqual(settings.serves, ['orchestrations']);
    assert.deepEqual(loadWorkerSettings({}).serves, ['orchestrations', 'entities', 'activities']);
    assert.deepEqual(
      parseWorkerArgs(['app.ts', '--functions', 'charge, ship', '--tubes', 'function', '--activity-lease-ms', '9000'], {
        DURABLE_QUEUE_URL: 'beanstalkd://queue:11300',
      }).settings.functions,
      ['charge', 'ship'],
    );
    assert.throws(
      () => parseWorkerArgs(['app.ts', '--tubes', 'each'], { DURABLE_QUEUE_URL: 'beanstalkd://q' }),
      /DURABLE_TUBES/,
    );
    assert.throws(() => parseWorkerArgs(['app.ts', '--activity-lease-ms', '0'], {}), /DURABLE_ACTIVITY_LEASE_MS/);
    assert.equal(parseWorkerArgs(['app.ts', '--turn-timeout-ms', '5000'], {}).config.turnTimeoutMs, 5000);
    assert.equal(parseWorkerArgs(['app.ts'], {}).config.cacheSize, 10_000);
    assert.equal(parseWorkerArgs(['app.ts'], {}).config.turnTimeoutMs, 10_000);
    assert.equal(parseWorkerArgs(['app.ts', '--cache-size', '50'], { DURABLE_CACHE_SIZE: '7' }).config.cacheSize, 50);
    assert.throws(() => parseWorkerArgs(['app.ts'], { DURABLE_CACHE_SIZE: 'lots' }), /DURABLE_CACHE_SIZE/);
    assert.equal(loadWorkerSettings({}).opsPort, 9464);
    assert.throws(() => parseWorkerArgs(['app.ts'], { DURABLE_OPS_PORT: '70000' }), /DURABLE_OPS_PORT/);
    assert.throws(() => parseWorkerArgs(['app.ts', '--serves', 'timers'], {}), /--serves/);
    assert.throws(() => parseWorkerArgs([], {}), /DURABLE_APP/);
  });
});
