/**
 * Operator replicas: two of them share the leader Lease, so only one reconciles; a stopped leader hands over at
 * once, and a `durable operator` process SIGKILLed in the middle of a reconcile is followed by one that finishes
 * the work without duplicates and without rewriting what was already done.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator, type RunningOperator } from '../../operator/operator.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import { withKubectl } from './kubectl.js';
import { OWNED, ROOT, settled } from './operator-fixture.js';

function workflows(names: string[]): string {
  return names
    .map(
      (n) =>
        `apiVersion: durable.dev/v1alpha1\nkind: Workflow\nmetadata: { name: ${n} }\nspec: { image: "a:1", app: a.ts }\n`,
    )
    .join('---\n');
}

function writesOf(operator: RunningOperator): Promise<string> {
  return operator.metrics.registry.getSingleMetricAsString('durable_operator_writes_total');
}

describe('operator replicas', function () {
  this.timeout(60_000);
  const k8s = withKubectl('each', (kubectl) =>
    kubectl.installCrds(join(ROOT, 'crds'), 'workflows.durable.dev', 'entities.durable.dev'),
  );
  let operators: RunningOperator[] = [];
  let children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(operators.map((o) => o.stop()));
    for (const child of children) child.kill('SIGKILL');
    operators = [];
    children = [];
  });

  const replica = async (identity: string): Promise<RunningOperator> => {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromString(k8s.server.kubeconfig());
    const operator = await startOperator({
      kubeconfig,
      logger: silentLogger,
      leaseNamespace: 'default',
      identity,
      leaseDurationMs: 1500,
      renewDeadlineMs: 1000,
      retryPeriodMs: 200,
      finalizerPollMs: 50,
      ops: { host: '127.0.0.1', port: 0 },
    });
    operators.push(operator);
    return operator;
  };

  it('reconciles with one replica at a time, and hands over at once when the leader stops', async () => {
    const { server, kubectl } = k8s;
    const [a, b] = [await replica('op-a'), await replica('op-b')];
    let both = 0;
    const sampler = setInterval(() => {
      if (a.controller() !== undefined && b.controller() !== undefined) both++;
    }, 2);
    try {
      await until(() => a.elector.isLeader() || b.elector.isLeader(), 'a leader', 10_000);
      const [leader, standby] = a.elector.isLeader() ? [a, b] : [b, a];
      await kubectl.ok('apply', '-f', kubectl.file('w.yaml', workflows(['one', 'two'])));
      await until(
        () => server.read('apps', 'deployments', 'default', 'two-workflow') !== undefined,
        'reconciled',
        10_000,
      );
      await until(
        async () => /verb="apply",kind="Deployment"\} 2/.test(await writesOf(leader)),
        'the leader applied both',
        5000,
      );
      assert.doesNotMatch(await writesOf(standby), /durable_operator_writes_total\{/, 'the standby wrote nothing');
      assert.match(await standby.metrics.registry.getSingleMetricAsString('durable_operator_leader'), / 0$/m);

      const stoppedAt = performance.now();
      await leader.stop();
      await until(() => standby.elector.isLeader(), 'the standby leads', 10_000);
      const handover = performance.now() - stoppedAt;
      assert.ok(handover < 1500, `a released Lease is taken at once (${handover.toFixed(0)} ms), not after it expires`);
      // What Prometheus and the kubelet see of the new leader.
      await until(async () => (await fetch(`${standby.opsUrl}/readyz`)).status === 200, 'ready once synced', 10_000);
      const scraped = await (await fetch(`${standby.opsUrl}/metrics`)).text();
      assert.match(scraped, /^durable_operator_leader 1$/m);
      assert.match(scraped, /^durable_operator_reconciles_total\{kind="Workflow",result="done"\} [1-9]/m);
      assert.match(scraped, /^durable_operator_reconcile_duration_seconds_count\{kind="Workflow"\} [1-9]/m);
      await kubectl.ok('apply', '-f', kubectl.file('w3.yaml', workflows(['three'])));
      await until(
        () => server.read('apps', 'deployments', 'default', 'three-workflow') !== undefined,
        'the new leader reconciles',
        10_000,
      );
    } finally {
      clearInterval(sampler);
    }
    assert.equal(both, 0, 'never two controllers at once');
  });

  it('after an operator is SIGKILLed mid-reconcile, the next one finishes without duplicates or rewrites', async () => {
    const { server, kubectl } = k8s;
    const names = ['w1', 'w2', 'w3'];
    // Deployments are slow to apply, so the kill lands with some pools half done.
    server.injectFault({ verb: 'patch', resource: 'deployments', latencyMs: 800 });
    const first = spawnOperator(server, 'op-1');
    children.push(first);
    await kubectl.ok('apply', '-f', kubectl.file('w.yaml', workflows(names)));
    await until(
      () => server.requestCount({ verb: 'patch', resource: 'deployments' }) >= 1,
      'a Deployment being applied',
      20_000,
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    server.clearFaults();
    // A request the killed process had sent still lands (the server holds it for its latency): let it.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // What the killed operator left: the next one must apply only what is missing.
    const present = new Map(
      OWNED.map(([group, plural]) => [
        plural,
        names.filter((n) => server.read(group, plural, 'default', `${n}-workflow`) !== undefined).length,
      ]),
    );
    assert.ok((present.get('deployments') ?? 0) < names.length, 'the kill landed before every Deployment was applied');
    server.resetRequestCounts();
    const second = spawnOperator(server, 'op-2');
    children.push(second);
    await until(
      () => names.every((n) => server.read('durable.dev', 'workflows', 'default', n)?.status?.observedGeneration === 1),
      'every pool reconciled by the next operator',
      30_000,
    );
    await settled(server, 500);
    for (const [, plural] of OWNED) {
      const missing = names.length - (present.get(plural) ?? 0);
      assert.equal(
        server.requestCount({ verb: 'patch', resource: plural }),
        missing,
        `${plural}: ${missing} applied by the next operator, none rewritten`,
      );
      const all = JSON.parse(
        await kubectl.ok('get', plural, '-l', 'app.kubernetes.io/managed-by=durable-operator', '-o', 'json'),
      );
      const ours = all.items.filter((o: any) => o.metadata.name.endsWith('-workflow'));
      assert.equal(ours.length, names.length, `one ${plural} per pool`);
    }
  });
});

/** `durable operator` as a process, as the chart runs it (short leader Lease, so the next one need not wait long). */
function spawnOperator(server: KubeApiServer, identity: string): ChildProcess {
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'operator-')), 'kubeconfig');
  writeFileSync(kubeconfig, server.kubeconfig());
  const child = spawn(process.execPath, ['bin/durable.mjs', 'operator', '--ops-port', '0', '--identity', identity], {
    cwd: ROOT,
    env: {
      ...process.env,
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: 'default',
      DURABLE_OPERATOR_LEASE_DURATION_MS: '1500',
      DURABLE_LOG_LEVEL: process.env.OPERATOR_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', process.env.OPERATOR_LOG_LEVEL ? 'inherit' : 'ignore', 'inherit'],
  });
  return child;
}
