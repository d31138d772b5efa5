/**
 * LeaderElector against the Kubernetes test server over real HTTPS with @kubernetes/client-node 1.4. Durations are
 * short (lease 1 s, renew deadline 700 ms, retry 150 ms) so the file stays fast. Order and bounds are asserted from
 * the server's own record of request arrivals, never as wall-clock limits: a takeover after a frozen leader must come
 * at least a lease duration after that leader's last renewal reached the server, and the frozen leader must have
 * stepped down before it. A sampler checks every 2 ms that no two electors lead, or run their work, at once.
 */
import assert from 'node:assert/strict';
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaderElectorOptions } from '../../operator/leader-election.js';
import type { Logger, LogRecord } from '../../src/observability/logger.js';
import { KubeApiServer } from '../kube-api-server/server.js';
import { gated, type ApiGate } from '../helpers/api-gate.js';
import { until } from '../helpers/until.js';

const LEASE_MS = 1000;
const DEADLINE_MS = 700;
const RETRY_MS = 150;
const NAME = 'durable-operator';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  debug = (r: LogRecord): void => void this.records.push(r);
  info = (r: LogRecord): void => void this.records.push(r);
  warn = (r: LogRecord): void => void this.records.push(r);
  error = (r: LogRecord): void => void this.records.push(r);
}

/** One operator replica: its elector, the gate in front of its client, and what its callbacks saw. */
interface Candidate {
  readonly identity: string;
  readonly elector: LeaderElector;
  readonly gate: ApiGate<CoordinationV1Api>;
  readonly logger: RecordingLogger;
  /** True from onStartedLeading until its work ends (the work stops when the signal aborts, after `drainMs`). */
  working: boolean;
  readonly startedAt: number[];
  readonly stoppedAt: number[];
  readonly workEndedAt: number[];
  readonly newLeaders: string[];
}

describe('leader election on a Lease', function () {
  this.timeout(20_000);
  let server: KubeApiServer;
  let config: KubeConfig;
  let candidates: Candidate[];
  /** While false, no fault rule with a `probability` fires: a test ends its faults when it chooses. */
  let faultsOn: boolean;
  /** Cleared after each test, so a failed test does not leave a sampler keeping the process alive. */
  const samplers: NodeJS.Timeout[] = [];

  beforeEach(async () => {
    faultsOn = true;
    server = new KubeApiServer({ random: () => (faultsOn ? Math.random() : 1) });
    await server.start();
    config = new KubeConfig();
    config.loadFromString(server.kubeconfig());
    candidates = [];
  });

  afterEach(async () => {
    for (const timer of samplers) clearInterval(timer);
    for (const c of candidates) c.gate.resume();
    await Promise.all(candidates.map((c) => c.elector.stop()));
    await server.stop();
  });

  function start(identity: string, options: Partial<LeaderElectorOptions> = {}, drainMs = 0): Candidate {
    const gate = gated(config.makeApiClient(CoordinationV1Api));
    const logger = new RecordingLogger();
    const elector = new LeaderElector({
      api: gate.api,
      namespace: 'default',
      name: NAME,
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      logger,
      ...options,
    });
    const candidate: Candidate = {
      identity,
      elector,
      gate,
      logger,
      working: false,
      startedAt: [],
      stoppedAt: [],
      workEndedAt: [],
      newLeaders: [],
    };
    // Ends when the test stops the elector (afterEach, or the test itself).
    void elector.run({
      // The work of a term: it runs until the signal aborts, then takes `drainMs` to finish what is in flight.
      onStartedLeading: async (signal) => {
        candidate.working = true;
        candidate.startedAt.push(performance.now());
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        await sleep(drainMs);
        candidate.working = false;
        candidate.workEndedAt.push(performance.now());
      },
      onStoppedLeading: () => void candidate.stoppedAt.push(performance.now()),
      onNewLeader: (holder) => void candidate.newLeaders.push(holder),
    });
    candidates.push(candidate);
    return candidate;
  }

  function lease(): V1Lease['spec'] & object {
    return server.read('coordination.k8s.io', 'leases', 'default', NAME)?.spec as V1Lease['spec'] & object;
  }

  /** Every 2 ms: fails the test later if two candidates lead, or run a term's work, at the same moment. */
  function watchForTwoLeaders(): { stop(): string[] } {
    const violations: string[] = [];
    const timer = setInterval(() => {
      const leaders = candidates.filter((c) => c.elector.isLeader()).map((c) => c.identity);
      const working = candidates.filter((c) => c.working).map((c) => c.identity);
      if (leaders.length > 1) violations.push(`two leaders: ${leaders.join(', ')}`);
      if (working.length > 1) violations.push(`two terms' work at once: ${working.join(', ')}`);
    }, 2);
    samplers.push(timer);
    return {
      stop: () => {
        clearInterval(timer);
        return violations;
      },
    };
  }

  const leaders = (): Candidate[] => candidates.filter((c) => c.elector.isLeader());

  /** Arrival times (server clock) of the successful Lease writes. */
  const writesAt = (): number[] =>
    server
      .requests({ resource: 'leases' })
      .filter((r) => (r.verb === 'update' || r.verb === 'create') && r.status < 300)
      .map((r) => r.at);

  it('refuses durations that would let a leader outlive its lease', () => {
    const api = config.makeApiClient(CoordinationV1Api);
    const base = { api, namespace: 'default', name: NAME, identity: 'a' };
    assert.throws(
      () => new LeaderElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000 }),
      /renewDeadlineMs/,
    );
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 }), /retryPeriodMs/);
    assert.throws(() => new LeaderElector({ ...base, identity: '' }), /identity/);
  });

  it('elects exactly one of two candidates, which keeps the Lease while it renews', async () => {
    const sampler = watchForTwoLeaders();
    const a = start('operator-a');
    const b = start('operator-b');
    await until(() => leaders().length === 1, 'one candidate leads');
    const [leader] = leaders();
    const other = leader === a ? b : a;
    await sleep(LEASE_MS * 1.5); // several renewals; the standby sees the record change and never takes it
    assert.deepEqual(leaders(), [leader]);
    assert.equal(lease().holderIdentity, leader!.identity);
    assert.equal(lease().leaseDurationSeconds, 1);
    assert.equal(lease().leaseTransitions, 0, 'created by the leader, never taken over');
    assert.equal(other.elector.leader(), leader!.identity);
    assert.deepEqual(other.newLeaders, [leader!.identity]);
    assert.deepEqual(other.startedAt, []);
    assert.deepEqual(sampler.stop(), []);
  });

  it('hands over after a frozen leader: the standby waits a full lease, and the old leader steps down first', async () => {
    const a = start('operator-a');
    await until(() => a.elector.isLeader(), 'a leads');
    const b = start('operator-b');
    await until(() => b.elector.leader() === 'operator-a', 'b sees a lead');
    const sampler = watchForTwoLeaders();
    server.resetRequestCounts();
    await sleep(RETRY_MS * 2);
    a.gate.pause(); // a SIGSTOP of its network: its renewals hang (one already sent may still land)
    await until(() => b.elector.isLeader(), 'b takes over', 10_000);
    // Only a's renewals and then b's acquiring write reach the server, in that order.
    const [lastRenewalAt, takeoverAt] = writesAt().slice(-2) as [number, number];
    console.log(
      `      takeover ${(takeoverAt - lastRenewalAt).toFixed(0)} ms after the last renewal; ` +
        `a stepped down ${(takeoverAt - a.stoppedAt[0]!).toFixed(0)} ms before it (lease ${LEASE_MS} ms)`,
    );
    assert.ok(takeoverAt - lastRenewalAt >= LEASE_MS, 'the standby waited a lease duration on its own clock');
    assert.equal(a.stoppedAt.length, 1);
    assert.ok(a.stoppedAt[0]! < takeoverAt, 'the old leader stepped down before the takeover');
    assert.ok(a.workEndedAt[0]! < b.startedAt[0]!, "the old leader's work ended before the new one's began");
    assert.equal(lease().holderIdentity, 'operator-b');
    assert.equal(lease().leaseTransitions, 1);
    assert.ok(b.logger.records.some((r) => r.event === 'leader.acquired' && r.how === 'expired'));

    a.gate.resume(); // waking up: its stale renewal gets a 409 and it becomes a standby
    await until(() => a.elector.leader() === 'operator-b', 'a sees b lead', 5_000);
    await sleep(LEASE_MS);
    assert.deepEqual(leaders(), [b]);
    assert.deepEqual(sampler.stop(), []);
  });

  it('releases the Lease on stop once its work has drained, and the standby takes it at once', async () => {
    const a = start('operator-a', {}, 300); // its reconciles take 300 ms to finish after the signal
    await until(() => a.elector.isLeader(), 'a leads');
    const b = start('operator-b');
    await until(() => b.elector.leader() === 'operator-a', 'b sees a lead');
    const sampler = watchForTwoLeaders();
    await a.elector.stop();
    const releasedAt = performance.now();
    assert.notEqual(lease().holderIdentity, 'operator-a', 'released');
    assert.equal(lease().leaseDurationSeconds, 1);
    await until(() => b.elector.isLeader(), 'b takes over', 5_000);
    const takeoverMs = performance.now() - releasedAt;
    console.log(`      the standby led ${takeoverMs.toFixed(0)} ms after the release (lease ${LEASE_MS} ms)`);
    const acquired = b.logger.records.find((r) => r.event === 'leader.acquired');
    assert.equal(acquired?.how, 'free', 'taken because it was released, not because it expired');
    assert.ok(takeoverMs < LEASE_MS, `took ${takeoverMs} ms`);
    assert.ok(a.workEndedAt[0]! < b.startedAt[0]!, "the old leader's work ended before the new one's began");
    assert.equal(a.stoppedAt.length, 1);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(lease().leaseTransitions, 1);
    assert.deepEqual(sampler.stop(), []);
  });

  it('never has two leaders through 500s, 409s, 429s and latency, and ends with exactly one', async () => {
    server.injectFault({ resource: 'leases', status: 500, probability: 0.2, times: 15 });
    server.injectFault({ verb: 'update', resource: 'leases', status: 409, probability: 0.2, times: 10 });
    server.injectFault({ resource: 'leases', status: 429, retryAfterSeconds: 1, probability: 0.1, times: 4 });
    server.injectFault({ resource: 'leases', latencyMs: 300, probability: 0.2, times: 15 });
    // Renewals slower than the renew deadline: the leader gives up on them, steps down, and the server applies them
    // afterwards anyway (its record names the leader that stepped down).
    server.injectFault({ verb: 'update', resource: 'leases', latencyMs: 900, probability: 0.3, times: 3 });
    const sampler = watchForTwoLeaders();
    const group = ['operator-a', 'operator-b', 'operator-c'].map((id) => start(id));
    await sleep(LEASE_MS * 4);
    faultsOn = false;
    await until(() => leaders().length === 1, 'one leader once the faults end', 10_000);
    await sleep(LEASE_MS);
    assert.equal(leaders().length, 1);
    const [leader] = leaders();
    assert.equal(lease().holderIdentity, leader!.identity);
    const failed = server.requests({ resource: 'leases' }).filter((r) => r.status >= 400).length;
    const transitions = group.reduce((n, c) => n + c.startedAt.length, 0);
    console.log(`      ${failed} failed Lease requests, ${transitions} terms across three candidates`);
    assert.ok(failed >= 5, 'the faults hit');
    for (const c of group) assert.ok(c.stoppedAt.length >= c.startedAt.length - 1, 'each lost term was ended');
    assert.deepEqual(sampler.stop(), []);
  });

  it('waits the Retry-After of a 429 before its next request', async () => {
    server.injectFault({ verb: 'get', resource: 'leases', status: 429, retryAfterSeconds: 1, times: 1 });
    const a = start('operator-a');
    await until(() => a.elector.isLeader(), 'a leads once the throttle ends', 5_000);
    const [throttled, next] = server.requests({ resource: 'leases' });
    assert.equal(throttled?.status, 429);
    assert.ok(next!.at - throttled.at >= 1000, `the next request came ${next!.at - throttled.at} ms after the 429`);
    assert.ok(a.logger.records.some((r) => r.event === 'leader.throttled' && r.retryAfterMs === 1000));
  });

  it("does not steal a Lease whose record keeps changing, however old its holder's renewTime looks", async () => {
    const api = config.makeApiClient(CoordinationV1Api);
    const skew = 3_600_000; // the holder's clock is an hour behind ours
    let current = await api.createNamespacedLease({
      namespace: 'default',
      body: {
        metadata: { name: NAME },
        spec: {
          holderIdentity: 'operator-skewed',
          leaseDurationSeconds: 1,
          acquireTime: new Date(Date.now() - skew),
          renewTime: new Date(Date.now() - skew),
          leaseTransitions: 0,
        },
      },
    });
    let renewing = true;
    const renewals = (async () => {
      while (renewing) {
        await sleep(RETRY_MS);
        const body = { ...current, spec: { ...current.spec, renewTime: new Date(Date.now() - skew) } };
        current = await api.replaceNamespacedLease({ name: NAME, namespace: 'default', body });
      }
    })();
    const b = start('operator-b');
    await sleep(LEASE_MS * 2.5);
    assert.equal(b.elector.isLeader(), false);
    assert.deepEqual(b.startedAt, []);
    assert.equal(b.elector.leader(), 'operator-skewed');
    assert.equal(lease().holderIdentity, 'operator-skewed');

    renewing = false; // the holder dies: now the record stops changing, and the lease runs out
    await renewals;
    const diedAt = Math.max(...writesAt());
    await until(() => b.elector.isLeader(), 'b takes over the dead holder', 5_000);
    assert.ok(writesAt().find((at) => at > diedAt)! - diedAt >= LEASE_MS);
    assert.equal(lease().leaseTransitions, 1);
  });
});
