/**
 * PartitionLeases against the Kubernetes test server over real HTTPS with @kubernetes/client-node 1.4. Durations
 * are short (lease 2 s, renew 400 ms) so the file stays fast; the bounds asserted are the design's (a takeover
 * within lease + renew interval, writes within partitions + members per interval) plus a tolerance for a slow
 * machine. A worker is paused or cut off by a gate in front of its own API client, so the other workers and the
 * server carry on untouched.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { PartitionLeases, type PartitionLeasesOptions } from '../../src/backends/kubernetes/partition-leases.js';
import { partitionLeaseName } from '../../src/backends/kubernetes/lease-names.js';
import type { Logger, LogRecord } from '../../src/observability/logger.js';
import { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import { gated, type ApiGate } from '../helpers/api-gate.js';

const LEASE_MS = 2000;
const RENEW_MS = 400;
/** Scheduling slack on a slow 2-core test machine. */
const TOLERANCE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Gate = ApiGate<CoordinationV1Api>;

class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  debug = (r: LogRecord): void => void this.records.push(r);
  info = (r: LogRecord): void => void this.records.push(r);
  warn = (r: LogRecord): void => void this.records.push(r);
  error = (r: LogRecord): void => void this.records.push(r);
}

describe('partition leases on Kubernetes Leases', function () {
  this.timeout(30_000);
  let server: KubeApiServer;
  let config: KubeConfig;
  let workers: { leases: PartitionLeases; gate: Gate }[];

  beforeEach(async () => {
    server = new KubeApiServer();
    await server.start();
    config = new KubeConfig();
    config.loadFromString(server.kubeconfig());
    workers = [];
  });

  afterEach(async () => {
    for (const { gate } of workers) gate.resume();
    await Promise.all(workers.map(({ leases }) => leases.close()));
    await server.stop();
  });

  async function start(
    name: string,
    options: Partial<PartitionLeasesOptions> = {},
  ): Promise<{ leases: PartitionLeases; gate: Gate }> {
    const gate = gated(config.makeApiClient(CoordinationV1Api));
    const leases = await PartitionLeases.start({
      api: gate.api,
      namespace: 'default',
      app: 'orders',
      partitions: 64,
      identity: `${name}/${randomUUID().slice(0, 8)}`,
      leaseDurationMs: LEASE_MS,
      renewIntervalMs: RENEW_MS,
      logger: new RecordingLogger(),
      ...options,
    });
    const worker = { leases, gate };
    workers.push(worker);
    return worker;
  }

  function lease(partition: number, partitions = 64, app = 'orders'): V1Lease['spec'] & object {
    return server.read('coordination.k8s.io', 'leases', 'default', partitionLeaseName(app, partition, partitions))
      ?.spec as V1Lease['spec'] & object;
  }

  /** Samples every few ms: fails the test later if two workers ever claim one partition at the same moment. */
  function watchForDoubleHolds(group: PartitionLeases[]): { stop(): string[] } {
    const violations: string[] = [];
    const timer = setInterval(() => {
      const partitions = group[0]?.partitions ?? 0;
      for (let p = 0; p < partitions; p++) {
        const holders = group.filter((w) => w.holding(p));
        if (holders.length > 1) violations.push(`partition ${p} held by ${holders.length} workers`);
      }
    }, 3);
    return {
      stop: () => {
        clearInterval(timer);
        return violations;
      },
    };
  }

  /** Every partition held by exactly one of `group`, and the shares differ by at most one. */
  function converged(group: PartitionLeases[]): boolean {
    const partitions = group[0]!.partitions;
    for (let p = 0; p < partitions; p++) if (group.filter((w) => w.holding(p)).length !== 1) return false;
    const shares = group.map((w) => w.held().length);
    return Math.max(...shares) - Math.min(...shares) <= 1;
  }

  it('shares 64 partitions between two, then three workers, each partition held by exactly one at every moment', async () => {
    const a = await start('a');
    const b = await start('b');
    const sampler = watchForDoubleHolds([a.leases, b.leases]);
    await until(() => converged([a.leases, b.leases]), 'two workers share the partitions', 15_000);
    assert.deepEqual(
      [a.leases.held().length, b.leases.held().length].sort(),
      [32, 32],
      'an even split of 64 over two workers',
    );
    const c = await start('c');
    const sampler3 = watchForDoubleHolds([a.leases, b.leases, c.leases]);
    await until(() => converged([a.leases, b.leases, c.leases]), 'three workers share the partitions', 15_000);
    assert.deepEqual([a.leases.held().length, b.leases.held().length, c.leases.held().length].sort(), [21, 21, 22]);
    // No ping-pong once converged: the holders stay put for several renew intervals.
    const holders = Array.from({ length: 64 }, (_, p) => lease(p).holderIdentity);
    await sleep(RENEW_MS * 4);
    assert.deepEqual(
      Array.from({ length: 64 }, (_, p) => lease(p).holderIdentity),
      holders,
    );
    assert.deepEqual([...sampler.stop(), ...sampler3.stop()], []);
  });

  it("takes over a dead worker's partitions within a lease and a renew interval, as taken over", async () => {
    const a = await start('a');
    const b = await start('b');
    const c = await start('c');
    const group = [a.leases, b.leases, c.leases];
    await until(() => converged(group), 'three workers share the partitions', 15_000);
    const orphaned = a.leases.held();
    const transitions = new Map(orphaned.map((p) => [p, lease(p).leaseTransitions ?? 0]));
    const sampler = watchForDoubleHolds(group);

    const diedAt = performance.now();
    a.gate.cut(); // no release, no renewal: a crash or a lost network
    await until(
      () => orphaned.every((p) => b.leases.holding(p) || c.leases.holding(p)),
      "the survivors hold every one of the dead worker's partitions",
      LEASE_MS + RENEW_MS + 5_000,
    );
    const takeoverMs = performance.now() - diedAt;
    console.log(
      `      takeover of ${orphaned.length} partitions: ${takeoverMs.toFixed(0)} ms after the death ` +
        `(lease ${LEASE_MS} ms, renew ${RENEW_MS} ms)`,
    );
    assert.ok(takeoverMs <= LEASE_MS + RENEW_MS + TOLERANCE_MS, `took ${takeoverMs} ms`);
    for (const p of orphaned) {
      assert.equal(lease(p).leaseTransitions, transitions.get(p)! + 1, `leaseTransitions of partition ${p}`);
      assert.equal(b.leases.holding(p) || c.leases.holding(p), 'taken-over');
    }
    await until(() => converged([b.leases, c.leases]), 'the two survivors share all 64', 10_000);
    assert.deepEqual(sampler.stop(), []);
  });

  it('hands partitions over cleanly on close, draining each before its release is written', async () => {
    const drained: { partition: number; holderDuringDrain: string | undefined }[] = [];
    const a = await start('a', {
      partitions: 16,
      drain: async (partition) => {
        await sleep(50); // finishing the partition's turns in flight
        drained.push({ partition, holderDuringDrain: lease(partition, 16).holderIdentity });
      },
    });
    const b = await start('b', { partitions: 16 });
    await until(() => converged([a.leases, b.leases]), 'two workers share 16 partitions', 15_000);
    const handedOver = a.leases.held();
    drained.length = 0; // the partitions A gave up while B joined
    const identityOfA = lease(handedOver[0]!, 16).holderIdentity;
    const sampler = watchForDoubleHolds([a.leases, b.leases]);

    await a.leases.close();
    assert.deepEqual(a.leases.held(), []);
    assert.deepEqual(
      drained.map((d) => d.partition).sort((x, y) => x - y),
      handedOver,
    );
    for (const d of drained) assert.equal(d.holderDuringDrain, identityOfA, 'drained before the release write');
    for (const p of handedOver) assert.equal(lease(p, 16).holderIdentity, b.leases.holding(p) ? undefined : '');
    await until(() => b.leases.held().length === 16, 'the remaining worker holds all 16', 10_000);
    for (const p of handedOver) assert.equal(b.leases.holding(p), 'clean', `partition ${p}`);
    assert.deepEqual(sampler.stop(), []);
    const members = await config
      .makeApiClient(CoordinationV1Api)
      .listNamespacedLease({ namespace: 'default', labelSelector: 'durable.dev/role=member' });
    assert.equal(members.items.length, 1, "the closed worker's member Lease is gone");
  });

  it('leaves a partition whose drain fails to lapse, so that its next holder takes it over', async () => {
    let refuse: number | undefined;
    let closing = false;
    const a = await start('a', {
      partitions: 16,
      drain: (partition) => {
        if (closing && (refuse === undefined || partition === refuse)) {
          refuse = partition; // a turn of it failed after its commit: its outbox may be unsent
          return Promise.reject(new Error('an instance of it was never released'));
        }
        return Promise.resolve();
      },
    });
    const b = await start('b', { partitions: 16 });
    await until(() => converged([a.leases, b.leases]), 'two workers share 16 partitions', 15_000);
    const given = a.leases.held();
    closing = true;
    await a.leases.close();
    await until(() => b.leases.held().length === 16, 'the remaining worker holds all 16', 15_000);
    assert.ok(refuse !== undefined && given.includes(refuse));
    for (const p of given) {
      assert.equal(b.leases.holding(p), p === refuse ? 'taken-over' : 'clean', `partition ${p}`);
    }
  });

  it('stops claiming partitions when paused before anyone else can take them, and never claims them again', async () => {
    const a = await start('a', { partitions: 16 });
    const b = await start('b', { partitions: 16 });
    await until(() => converged([a.leases, b.leases]), 'two workers share 16 partitions', 15_000);
    const ofA = a.leases.held();
    const droppedAt = new Map<number, number>();
    const takenAt = new Map<number, number>();
    const timer = setInterval(() => {
      const now = performance.now();
      for (const p of ofA) {
        if (!a.leases.holding(p) && !droppedAt.has(p)) droppedAt.set(p, now);
        if (b.leases.holding(p) && !takenAt.has(p)) takenAt.set(p, now);
      }
    }, 2);
    try {
      a.gate.pause(); // a SIGSTOP: its requests wait, its renewals stop
      await until(() => ofA.every((p) => takenAt.has(p)), 'the other worker takes them over', 10_000);
    } finally {
      clearInterval(timer);
    }
    for (const p of ofA) {
      assert.ok(droppedAt.get(p)! < takenAt.get(p)!, `partition ${p} was dropped before it was taken over`);
    }
    const margin = Math.min(...ofA.map((p) => takenAt.get(p)! - droppedAt.get(p)!));
    console.log(`      a paused worker let go at least ${margin.toFixed(0)} ms before the takeover`);

    a.gate.resume(); // waking up: its queued renewals carry stale resourceVersions and get 409
    const sampler = watchForDoubleHolds([a.leases, b.leases]);
    await until(() => converged([a.leases, b.leases]), 'the woken worker rejoins with its fair share', 15_000);
    assert.deepEqual(sampler.stop(), []);
  });

  it('writes only renewals in steady state: one per held partition and one per member, per renew interval', async () => {
    const a = await start('a');
    const b = await start('b');
    await until(() => converged([a.leases, b.leases]), 'two workers share the partitions', 15_000);
    await sleep(RENEW_MS * 2); // releases written, nothing in flight
    const before = Array.from({ length: 64 }, (_, p) => ({ ...lease(p) }));
    server.resetRequestCounts();
    const intervals = 10;
    const started = performance.now();
    await sleep(RENEW_MS * intervals);
    const elapsed = performance.now() - started;
    const counts = server.requestCounts();
    const writes = server.requests().filter((r) => ['create', 'update', 'patch', 'delete'].includes(r.verb)).length;
    const bound = (64 + 2) * (intervals + 1);
    const perWorkerPerMinute = (writes / 2) * (60_000 / elapsed);
    // At the default 15 s lease / 5 s renewal a round comes every 5 s instead of every 400 ms.
    const scaled = perWorkerPerMinute * (RENEW_MS / 5000);
    console.log(
      `      ${writes} writes in ${elapsed.toFixed(0)} ms (${JSON.stringify(counts)}): ` +
        `${perWorkerPerMinute.toFixed(0)} per worker per minute here, ${scaled.toFixed(0)} at 5 s renewals`,
    );
    assert.ok(writes <= bound, `${writes} writes > ${bound}`);
    assert.ok(writes >= (64 + 2) * (intervals - 2), `${writes} writes: the holds are being renewed`);
    assert.equal(server.requestCount({ verb: 'create' }), 0);
    assert.equal(server.requestCount({ verb: 'patch' }), 0);
    assert.equal(server.requestCount({ verb: 'delete' }), 0);
    for (let p = 0; p < 64; p++) {
      assert.equal(lease(p).holderIdentity, before[p]!.holderIdentity, `partition ${p} did not move`);
      assert.equal(lease(p).leaseTransitions, before[p]!.leaseTransitions);
    }
  });

  it('survives 429 Too Many Requests, waits the Retry-After before its next request, and holds again after', async () => {
    const logger = new RecordingLogger();
    const a = await start('a', { partitions: 4, leaseDurationMs: 3000, renewIntervalMs: 500, logger });
    await until(() => a.leases.held().length === 4, 'the worker holds all 4', 10_000);
    server.resetRequestCounts();
    server.injectFault({ verb: 'update', resource: 'leases', status: 429, retryAfterSeconds: 2, times: 3 });
    await until(
      () => server.requests({ verb: 'update' }).filter((r) => r.status === 429).length === 3,
      'three 429s',
      15_000,
    );
    await until(() => a.leases.held().length === 4, 'the worker holds all 4 again', 10_000);

    const records = server.requests();
    const throttled = records.filter((r) => r.status === 429);
    const gaps = throttled.map((t) => {
      // Requests of the throttled round sent alongside the 429'd one arrive within a few ms of it.
      const next = records.find((r) => r.at > t.at + 100);
      assert.ok(next, 'requests resumed after each 429');
      return next.at - t.at;
    });
    console.log(
      `      after each 429 with Retry-After: 2, the next request came ${gaps.map((g) => g.toFixed(0)).join(', ')} ms later`,
    );
    for (const gap of gaps) assert.ok(gap >= 2000, `a request came ${gap} ms after a 429`);
    assert.ok(logger.records.some((r) => r.event === 'leases.throttled'));
    assert.ok(logger.records.some((r) => r.event === 'leases.renew_failed' || r.event === 'leases.member_failed'));
    for (let p = 0; p < 4; p++) assert.equal(lease(p, 4).holderIdentity, lease(0, 4).holderIdentity);
  });

  it('names and labels its Leases validly for any app name', async () => {
    const apps = ['Shop_Orders/EU', 'shop-orders-eu', 'x'.repeat(300)];
    const group = await Promise.all(apps.map((app, i) => start(`w${i}`, { app, partitions: 4 })));
    await until(() => group.every((w) => w.leases.held().length === 4), 'every app holds its 4 partitions', 10_000);
    const all = await config.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: 'default' });
    assert.equal(all.items.length, 3 * (4 + 1), 'one Lease per partition and a member Lease, for each app apart');
    const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
    for (const item of all.items) {
      const name = item.metadata!.name!;
      assert.match(name, dns1123);
      assert.ok(name.length <= 63, name);
      const labels = item.metadata!.labels!;
      assert.equal(labels['app.kubernetes.io/managed-by'], 'durable');
      for (const value of Object.values(labels)) {
        assert.match(value, labelValue);
        assert.ok(value.length <= 63);
      }
      assert.ok(apps.includes(item.metadata!.annotations!['durable.dev/app-name']!));
    }
    assert.equal(new Set(all.items.map((i) => i.metadata!.labels!['durable.dev/app'])).size, 3);
  });
});
