/**
 * Two `durable worker` processes on partition Leases (`DURABLE_LOCK=kubernetes`) against the Kubernetes API test
 * server, with Beanstalkd and one SQLite file. One worker is frozen with SIGSTOP for longer than its Leases: the other
 * takes its partitions over within a lease plus a renewal, the frozen one wakes to find its holds gone and commits
 * nothing stale, and every instance completes exactly as it should. The Lease writes are counted by the server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoordinationV1Api } from '@kubernetes/client-node';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import type { DurableClient } from '../../src/index.js';
import app from '../../examples/app.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import type { WorkerChild } from '../fixtures/worker-child.js';
import { metricSample, startWorkerChild } from '../fixtures/worker-child.js';
import { assertAllComplete, startChains } from '../helpers/outcomes.js';
import { until } from '../helpers/until.js';
import { KubeApiServer } from '../kube-api-server/server.js';
import { leaseApi, partitionHolders, untilPartitionsShared } from '../fixtures/partition-holders.js';
import { Kubectl } from '../kube/kubectl.js';

const PARTITIONS = 16;
const LEASE_MS = 3000;
const RENEW_MS = 1000;

describe('workers on Kubernetes partition Leases', function () {
  this.timeout(120_000);
  requireBeanstalkd();
  let kube: KubeApiServer | undefined;
  let beanstalkd: BeanstalkdServer | undefined;
  let workers: WorkerChild[] = [];
  let host: Host | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    for (const w of workers)
      if (w.process.signalCode === null && w.process.exitCode === null) w.process.kill('SIGCONT');
    await Promise.all(workers.map((w) => w.stop(5000)));
    workers = [];
    await host?.stop().catch(() => undefined);
    await beanstalkd?.stop();
    await kube?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Nothing stale was committed: each step of each 3-step chain is in its history once, scheduled and completed. */
  async function assertStepsOnce(client: DurableClient, expected: ReadonlyMap<string, unknown>): Promise<void> {
    for (const id of expected.keys()) {
      const steps = (await client.getHistory(id))
        .filter((e) => e.type === 'TaskScheduled' || e.type === 'TaskCompleted')
        .map((e) => `${e.type}:${(e as { seq: number }).seq}`);
      const once = [0, 1, 2].flatMap((seq) => [`TaskScheduled:${seq}`, `TaskCompleted:${seq}`]);
      assert.deepEqual(steps, once, id);
    }
  }

  /** Starts the servers and a worker per name, and waits until every worker holds partitions. */
  async function startCluster(
    names: readonly string[],
  ): Promise<{ api: CoordinationV1Api; ops: string[]; env: Record<string, string> }> {
    kube = new KubeApiServer();
    await kube.start();
    beanstalkd = await BeanstalkdServer.start();
    dir = mkdtempSync(join(tmpdir(), 'durable-kube-lock-'));
    writeFileSync(join(dir, 'kubeconfig'), kube.kubeconfig());
    const env = {
      DURABLE_SQLITE_PATH: join(dir, 'durable.db'),
      DURABLE_DURABILITY: 'normal',
      DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${beanstalkd.port}`,
      DURABLE_NAMESPACE: `kl-${randomUUID().slice(0, 8)}`,
      DURABLE_LOCK: 'kubernetes',
      DURABLE_PARTITIONS: String(PARTITIONS),
      DURABLE_KUBERNETES_NAMESPACE: 'default',
      DURABLE_LEASE_DURATION_MS: String(LEASE_MS),
      DURABLE_LEASE_RENEW_MS: String(RENEW_MS),
      DURABLE_TURN_TIMEOUT_MS: '5000',
      KUBECONFIG: join(dir, 'kubeconfig'),
    };
    workers = names.map((name) => startWorkerChild({ ...env, POD_NAME: name }));
    const ops = await Promise.all(workers.map(async (w) => String((await w.waitFor('worker.ops_listening')).address)));
    const api = leaseApi(kube);
    await untilPartitionsShared(api, PARTITIONS, names.length);
    host = await startHost({ app, config: loadConfig(env), runWorker: false });
    return { api, ops, env };
  }

  it('takes a frozen worker’s partitions over, and the worker wakes without committing anything stale', async () => {
    const { api, ops } = await startCluster(['frozen', 'steady']);
    const { client } = host as Host;
    const expected = new Map<string, unknown>();
    await startChains(client, 60, expected);

    // Freeze one worker past its Leases, while work goes on.
    const [frozen] = workers as [WorkerChild, WorkerChild];
    const frozenHeld = [...(await partitionHolders(api))].filter(([, h]) => h.startsWith('frozen/')).map(([p]) => p);
    frozen.process.kill('SIGSTOP');
    const stoppedAt = performance.now();
    await startChains(client, 60, expected);
    await until(
      async () => {
        const held = await partitionHolders(api);
        return frozenHeld.every((p) => held.get(p)?.startsWith('steady/') === true);
      },
      "the steady worker holds the frozen worker's partitions",
      LEASE_MS + RENEW_MS + 10_000,
    );
    const takeoverMs = performance.now() - stoppedAt;
    // What an operator sees: `kubectl get leases` shows every partition with the steady worker, and each partition
    // it took over with one more transition.
    const kubectl = new Kubectl(kube as KubeApiServer);
    try {
      const listed = await kubectl.ok(
        'get',
        'leases',
        '-l',
        'durable.dev/role=partition',
        '-o',
        'custom-columns=PARTITION:.metadata.labels.durable\\.dev/partition,HOLDER:.spec.holderIdentity,TRANSITIONS:.spec.leaseTransitions',
        '--no-headers',
      );
      const rows = listed
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/));
      assert.equal(rows.length, PARTITIONS);
      for (const [partition, holder, transitions] of rows) {
        assert.match(holder ?? '', /^steady\//, `partition ${partition}`);
        if (frozenHeld.includes(Number(partition))) assert.ok(Number(transitions) >= 1, `partition ${partition}`);
      }
    } finally {
      kubectl.cleanup();
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2 * LEASE_MS - takeoverMs)));
    const writesBeforeWake = (kube as KubeApiServer).requestCount({ verb: 'update', resource: 'leases' });
    frozen.process.kill('SIGCONT');
    await startChains(client, 60, expected);

    await assertAllComplete(client, expected, 60_000);
    // Nothing stale was committed: each step of each chain is in its history once, scheduled and completed.
    for (const id of expected.keys()) {
      const steps = (await client.getHistory(id))
        .filter((e) => e.type === 'TaskScheduled' || e.type === 'TaskCompleted')
        .map((e) => `${e.type}:${(e as { seq: number }).seq}`);
      assert.deepEqual(
        steps,
        [
          'TaskScheduled:0',
          'TaskCompleted:0',
          'TaskScheduled:1',
          'TaskCompleted:1',
          'TaskScheduled:2',
          'TaskCompleted:2',
        ],
        id,
      );
    }
    // Both share the partitions again, the woken worker having taken its share back through the Leases.
    await until(
      async () => new Set((await partitionHolders(api)).values()).size === 2,
      'the woken worker holds partitions again',
      30_000,
    );
    // Each worker reports its share on /metrics: together, every partition once.
    const shares = async (): Promise<number[]> =>
      Promise.all(
        ops.map(async (address) =>
          metricSample(await (await fetch(`${address}/metrics`)).text(), 'durable_partitions_held'),
        ),
      );
    await until(
      async () => {
        const held = await shares();
        return held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === PARTITIONS;
      },
      'the workers report shares that add up to every partition',
      15_000,
    );
    const frozenMetrics = await (await fetch(`${ops[0]}/metrics`)).text();
    const conflicts = metricSample(frozenMetrics, 'durable_version_conflicts_total');
    console.log(
      `      took over ${frozenHeld.length} partitions ${Math.round(takeoverMs)} ms after the SIGSTOP (lease ${LEASE_MS} ms, ` +
        `renewal ${RENEW_MS} ms); shares after the wake ${(await shares()).join(' + ')}; the woken worker's refused commits: ${conflicts}; Lease updates from the start to the wake: ${writesBeforeWake}`,
    );
    assert.ok(
      takeoverMs <= LEASE_MS + RENEW_MS + 3000,
      `takeover took ${Math.round(takeoverMs)} ms (bound ${LEASE_MS + RENEW_MS} ms + 3 s for scheduling on a loaded machine)`,
    );
  });

  it('keeps every instance through a misbehaving API server: 500 ms latency, 20% 500s, 429 bursts', async () => {
    const { api } = await startCluster(['one', 'two']);
    const server = kube as KubeApiServer;
    const { client } = host as Host;
    const expected = new Map<string, unknown>();
    const before = server.requestCount({ resource: 'leases' });
    server.injectFault({ resource: 'leases', latencyMs: 500 });
    server.injectFault({ resource: 'leases', status: 500, probability: 0.2 });
    for (let round = 0; round < 3; round++) {
      server.injectFault({ resource: 'leases', status: 429, retryAfterSeconds: 1, times: 10 });
      await startChains(client, 40, expected);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    await assertAllComplete(client, expected, 90_000);
    await assertStepsOnce(client, expected);
    server.faults.clear();
    await until(
      async () => {
        const held = await partitionHolders(api);
        return held.size === PARTITIONS && new Set(held.values()).size === 2;
      },
      'both workers hold partitions again once the faults stop',
      30_000,
    );
    const failed = server.requests({ resource: 'leases' }).filter((r) => r.status >= 400).length;
    console.log(
      `      ${expected.size} chains completed; ${server.requestCount({ resource: 'leases' }) - before} Lease requests ` +
        `during the run, ${failed} of them failed by injection`,
    );
    assert.equal(
      workers.filter((w) => w.process.exitCode !== null || w.process.signalCode !== null).length,
      0,
      'no worker died',
    );
  });
});
