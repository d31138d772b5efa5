/**
 * Poison messages on Beanstalkd with real worker processes (issue #10, item 15). A message whose run kills the
 * worker (here `process.exit(1)`) comes back together with every other message that worker had reserved, since
 * Beanstalkd releases a closed connection's jobs at once. Without isolation the next worker takes them together
 * again and they share every crash, so healthy bystanders reached the dead-letter limit with the poison. Each test
 * runs two `durable worker` processes under a supervisor that restarts whichever dies (a bounded number of times),
 * one Beanstalkd and one SQLite file, and checks that only the poison message is dead-lettered.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import type { InstanceStatus } from '../../src/index.js';
import app from '../fixtures/poison-app.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import type { Supervisor } from '../fixtures/worker-supervisor.js';
import { supervise } from '../fixtures/worker-supervisor.js';

const APP = 'test/fixtures/poison-app.ts';
const HEALTHY = 50;
/** Low, so that the poison message is dead-lettered after a few crashes (each costs a worker restart). */
const MAX_DELIVERIES = 4;

/** Polls until every instance has ended or is stuck (a dead-lettered message), bounded by `ms`. */
async function settled(host: Host, ids: readonly string[], ms: number): Promise<InstanceStatus[]> {
  const terminal = new Set(['Completed', 'Failed', 'Terminated']);
  const deadline = Date.now() + ms;
  for (;;) {
    const statuses = await Promise.all(ids.map(async (id) => (await host.client.getStatus(id)) as InstanceStatus));
    if (statuses.every((s) => terminal.has(s.status) || s.stuck !== undefined)) return statuses;
    if (Date.now() > deadline) {
      const open = statuses.filter((s) => !terminal.has(s.status) && s.stuck === undefined);
      assert.fail(
        `${open.length} instances neither ended nor got stuck in ${ms} ms: ${open.map((s) => s.instanceId).join(', ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('poison messages on Beanstalkd with crashing worker processes', function () {
  this.timeout(90_000);
  requireBeanstalkd();
  let server: BeanstalkdServer | undefined;
  let dir: string | undefined;
  let supervisor: Supervisor | undefined;
  let host: Host | undefined;

  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
    await host?.stop();
    host = undefined;
    await server?.stop();
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Beanstalkd, the SQLite file, two supervised workers and a client-only host. */
  async function cluster(): Promise<Host> {
    server = await BeanstalkdServer.start();
    dir = mkdtempSync(join(tmpdir(), 'durable-poison-'));
    const env = {
      DURABLE_SQLITE_PATH: join(dir, 'durable.db'),
      DURABLE_LOCK: 'sqlite',
      DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${server.port}`,
      DURABLE_NAMESPACE: `poison-${randomUUID().slice(0, 8)}`,
      DURABLE_MAX_DELIVERIES: String(MAX_DELIVERIES),
      // A dead worker's instance locks last one turn timeout; its reserved jobs come back when its connection closes.
      DURABLE_TURN_TIMEOUT_MS: '2000',
      DURABLE_ACTIVITY_LEASE_MS: '3000',
    };
    supervisor = supervise(env, APP, { count: 2, maxRestarts: 25 });
    await Promise.all(supervisor.workers.map((w) => w.waitFor('worker.ops_listening')));
    host = await startHost({ app, config: loadConfig(env), runWorker: false });
    return host;
  }

  it('dead-letters only the activity that kills its worker, and every healthy orchestration completes', async () => {
    const durable = await cluster();
    const poisonId = 'poisoned';
    const ids = Array.from({ length: HEALTHY }, (_, i) => `healthy-${i}`);
    await Promise.all([
      ...ids
        .slice(0, HEALTHY / 2)
        .map((id) => durable.client.start('fanOut', [`${id}-a`, `${id}-b`], { instanceId: id })),
      durable.client.start('fanOut', ['crash'], { instanceId: poisonId }),
      ...ids.slice(HEALTHY / 2).map((id) => durable.client.start('fanOut', [`${id}-a`, `${id}-b`], { instanceId: id })),
    ]);
    const statuses = await settled(durable, [...ids, poisonId], 60_000);
    const activityDead = await durable.backends.queue.deadLetters('activities');
    const orchestrationDead = await durable.backends.queue.deadLetters('orchestrations');
    const expected = (id: string): string[] => [`done ${id}-a`, `done ${id}-b`];
    const healthyFailed = statuses.filter(
      (s) => s.instanceId !== poisonId && JSON.stringify(s.output) !== JSON.stringify(expected(s.instanceId)),
    );
    console.log(
      `      ${supervisor?.restarts} restarts; dead letters: ${activityDead.length} activity, ` +
        `${orchestrationDead.length} orchestration; ${healthyFailed.length} healthy instances got a failure`,
    );

    for (const status of statuses.filter((s) => s.instanceId !== poisonId)) {
      assert.equal(status.status, 'Completed', `${status.instanceId}: ${JSON.stringify(status.stuck ?? status.error)}`);
      assert.deepEqual(status.output, expected(status.instanceId), status.instanceId);
    }
    const poisoned = statuses.find((s) => s.instanceId === poisonId);
    assert.equal(poisoned?.status, 'Completed', JSON.stringify(poisoned));
    assert.deepEqual(poisoned.output, ['failed PoisonMessage']);
    assert.deepEqual(
      activityDead.map((d) => d.message.instanceId),
      [poisonId],
    );
    assert.match(activityDead[0]?.reason ?? '', new RegExp(`Delivered ${MAX_DELIVERIES + 1} times`));
    assert.deepEqual(orchestrationDead, []);
  });

  it('dead-letters only the orchestration turn that kills its worker, and every healthy orchestration completes', async () => {
    const durable = await cluster();
    const poisonId = 'crashing-turn';
    const ids = Array.from({ length: HEALTHY }, (_, i) => `healthy-${i}`);
    await Promise.all([
      ...ids.slice(0, HEALTHY / 2).map((id) => durable.client.start('crashTurn', false, { instanceId: id })),
      durable.client.start('crashTurn', true, { instanceId: poisonId }),
      ...ids.slice(HEALTHY / 2).map((id) => durable.client.start('crashTurn', false, { instanceId: id })),
    ]);
    const statuses = await settled(durable, [...ids, poisonId], 60_000);
    const activityDead = await durable.backends.queue.deadLetters('activities');
    const orchestrationDead = await durable.backends.queue.deadLetters('orchestrations');
    const healthyFailed = statuses.filter((s) => s.instanceId !== poisonId && s.status !== 'Completed');
    console.log(
      `      ${supervisor?.restarts} restarts; dead letters: ${activityDead.length} activity, ` +
        `${orchestrationDead.length} orchestration; ${healthyFailed.length} healthy instances did not complete`,
    );

    for (const status of statuses.filter((s) => s.instanceId !== poisonId)) {
      assert.equal(status.status, 'Completed', `${status.instanceId}: ${JSON.stringify(status.stuck ?? status.error)}`);
      assert.equal(status.output, `done ${status.instanceId}`);
    }
    const poisoned = statuses.find((s) => s.instanceId === poisonId);
    assert.equal(poisoned?.stuck?.code, 'POISON_MESSAGE', JSON.stringify(poisoned));
    // The store's stuck filter and counts (what the dashboard reads) agree with the records, after crashed workers'
    // commits and the dead-lettering.
    const stuckListed = await durable.client.list({ stuck: true, limit: 100 });
    assert.deepEqual(
      stuckListed.items.map((s) => s.instanceId),
      [poisonId],
    );
    const counts = await durable.client.countByStatus({});
    assert.equal(counts.stuck, 1);
    assert.equal(counts.total, HEALTHY + 1);
    assert.equal(counts.byStatus.Completed, HEALTHY);
    assert.deepEqual(
      orchestrationDead.map((d) => d.message.instanceId),
      [poisonId],
    );
    assert.deepEqual(activityDead, []);
  });
});
