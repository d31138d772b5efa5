/**
 * The operator under load and under API faults: many pools at once, and a server that answers 500, 409 and 429
 * and drops its watches. Whatever happens, every pool ends as its spec says, with one of each object.
 */
import assert from 'node:assert/strict';
import type { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import { settled, withOperator } from './operator-fixture.js';

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

function manifests(count: number, spec = '{ image: "shop:1", app: app.ts, replicas: 2 }'): string {
  return Array.from(
    { length: count },
    (_, i) => `apiVersion: durable.dev/v1alpha1\nkind: Workflow\nmetadata: { name: wf-${i} }\nspec: ${spec}\n`,
  ).join('---\n');
}

/** True when pool `name` has its Deployment as the spec says and a status for its current generation. */
function reconciled(server: KubeApiServer, name: string, image = 'shop:1'): boolean {
  const pool = server.read('durable.dev', 'workflows', 'default', name);
  const deployment = server.read('apps', 'deployments', 'default', `${name}-workflow`);
  const degraded = pool?.status?.conditions?.find((c: any) => c.type === 'Degraded');
  return (
    deployment?.spec.template.spec.containers[0].image === image &&
    pool?.status?.observedGeneration === pool?.metadata.generation &&
    degraded?.status === 'False' &&
    ['serviceaccounts', 'services'].every((p) => server.read('', p, 'default', `${name}-workflow`)) &&
    server.read('policy', 'poddisruptionbudgets', 'default', `${name}-workflow`) !== undefined
  );
}

function writeCount(server: KubeApiServer): number {
  return server.requests().filter((r) => WRITES.has(r.verb) && r.status < 300).length;
}

describe('the operator at scale and under faults', function () {
  this.timeout(300_000);
  // Retries capped at 2 s (60 s in production): with 30% of writes failing, a pool can fail ten times in a row.
  const k8s = withOperator({ retryMaxMs: 2_000 });

  it('reconciles 100 Workflows, and reports the time and requests it took', async () => {
    const { server, kubectl, metrics } = k8s;
    server.resetRequestCounts();
    const started = performance.now();
    await kubectl.ok('apply', '-f', kubectl.file('many.yaml', manifests(100)));
    const names = Array.from({ length: 100 }, (_, i) => `wf-${i}`);
    await until(() => names.every((n) => reconciled(server, n)), '100 pools reconciled', 180_000);
    const seconds = (performance.now() - started) / 1000;
    await settled(server);
    const writes = await metrics.registry.getSingleMetricAsString('durable_operator_writes_total');
    const count = (verb: string, kind: string): number =>
      Number(new RegExp(`verb="${verb}",kind="${kind}"\\} (\\d+)`).exec(writes)?.[1] ?? 0);
    const total = [...writes.matchAll(/\} (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    console.log(
      `      100 Workflows, applied with kubectl and reconciled in ${seconds.toFixed(2)} s; ` +
        `${server.requests().length} requests to the API server (kubectl's included), ${total} writes by the operator`,
    );
    assert.equal(count('apply', 'Deployment'), 100, 'each Deployment applied once');
    assert.equal(count('update', 'Workflow'), 100, 'each finalizer added once');
    // Per pool: the finalizer, 6 applies, and a status write or two as the Deployment appears.
    assert.ok(total <= 100 * 9, `${total} writes for 100 pools`);
    const reconciles = await metrics.registry.getSingleMetricAsString('durable_operator_reconciles_total');
    assert.match(reconciles, /durable_operator_reconciles_total\{kind="Workflow",result="done"\} \d+/);
  });

  it('ends with every pool as its spec says through 500s, 409s, 429s and dropped watches', async () => {
    const { server, kubectl, controller, metrics } = k8s;
    // The operator's own requests fail; kubectl's (patches of the Workflows) go through.
    for (const resource of ['serviceaccounts', 'roles', 'rolebindings', 'services', 'deployments']) {
      server.injectFault({ verb: 'patch', resource, status: 500, probability: 0.3 });
    }
    server.injectFault({ verb: 'update', resource: 'workflows/status', status: 409, probability: 0.3 });
    server.injectFault({ verb: 'update', resource: 'workflows', status: 500, probability: 0.3 });
    server.injectFault({ verb: 'patch', resource: 'deployments', status: 429, retryAfterSeconds: 1, times: 3 });
    server.injectFault({ verb: 'list', status: 500, probability: 0.2 });
    server.dropWatchesEvery(300);
    const names = Array.from({ length: 10 }, (_, i) => `wf-${i}`);
    await kubectl.ok('apply', '-f', kubectl.file('some.yaml', manifests(10)));
    await until(() => names.every((n) => reconciled(server, n)), 'every pool reconciled', 120_000);
    // A change made while the faults go on is reconciled too.
    await kubectl.ok(
      'apply',
      '-f',
      kubectl.file('some.yaml', manifests(10, '{ image: "shop:2", app: app.ts, replicas: 2 }')),
    );
    await until(() => names.every((n) => reconciled(server, n, 'shop:2')), 'every pool on shop:2', 120_000);

    server.dropWatchesEvery(undefined);
    server.clearFaults();
    // Quiet for longer than an informer's longest back-off: every watch is back and every cache current.
    const errors = await metrics.registry.getSingleMetricAsString('durable_operator_reconcile_errors_total');
    assert.match(errors, /kind="Workflow"\} [1-9]/, 'the faults were hit (and retried)');
    await settled(server, 6_000, 30_000);
    for (const plural of ['deployments', 'services', 'serviceaccounts']) {
      const group = plural === 'deployments' ? 'apps' : '';
      const list = names.map((n) => server.read(group, plural, 'default', `${n}-workflow`));
      assert.equal(list.filter(Boolean).length, 10, `one ${plural} per pool`);
    }
    server.resetRequestCounts();
    for (const name of names) await controller.reconcileNow('Workflow', 'default', name);
    assert.equal(writeCount(server), 0, 'settled: nothing left to write');
  });
});
