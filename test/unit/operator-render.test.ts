/**
 * What the operator renders for a pool, checked against what the workers will read: the env goes through the
 * workers' own settings parser and serves resolver, so a mapping the worker would refuse fails here.
 */
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { contains, needsApply, withAppliedHash } from '../../operator/apply.js';
import type { Pool } from '../../operator/pool.js';
import { servesEnv, specProblems } from '../../operator/pool.js';
import { render } from '../../operator/render.js';
import { poolStatus, statusEqual } from '../../operator/status.js';
import { loadConfig, loadWorkerSettings } from '../../src/config/config.js';
import { defineApp } from '../../src/engine/app.js';
import { resolveServes } from '../../src/host/serves.js';

function pool(spec: Partial<Pool['spec']> = {}, kind: Pool['kind'] = 'Workflow'): Pool {
  return {
    apiVersion: 'durable.dev/v1alpha1',
    kind,
    metadata: { name: 'shop', namespace: 'prod', uid: 'uid-1', generation: 3 },
    spec: { image: 'registry.example.com/shop:1.0.0', app: 'shop/app.ts', ...spec },
  };
}

function find(objects: KubernetesObject[], kind: string): any {
  const found = objects.find((o) => o.kind === kind);
  assert.ok(found, `${kind} is rendered`);
  return found;
}

const app = defineApp({
  activities: {
    async charge(n: number) {
      return n;
    },
    async ship(n: number) {
      return n;
    },
  },
  orchestrations: {
    async order(ctx, n: number) {
      return ctx.callActivity('charge', n);
    },
  },
  entities: { counter: { initial: (): number => 0, add: (): void => undefined } },
});

/** What a worker started with the rendered env would serve. */
function workerServes(p: Pool, tubes: 'kind' | 'function') {
  const env = Object.fromEntries(
    (find(render(p).objects, 'Deployment').spec.template.spec.containers[0].env as { name: string; value?: string }[])
      .filter((e) => e.value !== undefined)
      .map((e) => [e.name, e.value]),
  );
  const backends = { DURABLE_QUEUE_URL: 'beanstalkd://q:11300', DURABLE_TUBES: tubes };
  const settings = loadWorkerSettings({ ...env, ...backends });
  const serves = { kinds: settings.serves, functions: settings.functions };
  return resolveServes(app, loadConfig({ ...env, ...backends }), serves);
}

describe('operator rendering', () => {
  it('renders every object under the pool name, owned by the pool, in dependency order', () => {
    const { objects, selector } = render(pool({ autoscaling: { maxReplicas: 5, queueDepthPerWorker: 50 } }));
    assert.deepEqual(
      objects.map((o) => o.kind),
      [
        'ServiceAccount',
        'Role',
        'RoleBinding',
        'Service',
        'Deployment',
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
      ],
    );
    for (const object of objects) {
      assert.equal(object.metadata?.name, 'shop-workflow');
      assert.equal(object.metadata?.namespace, 'prod');
      assert.deepEqual(object.metadata?.ownerReferences, [
        {
          apiVersion: 'durable.dev/v1alpha1',
          kind: 'Workflow',
          name: 'shop',
          uid: 'uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    assert.equal(
      selector,
      'app.kubernetes.io/name=durable-worker,app.kubernetes.io/instance=shop,durable.dev/workflow=shop',
    );
    assert.equal(render(pool({}, 'Entity')).objects[0]?.metadata?.name, 'shop-entity');
  });

  it('gives the workers the Lease RBAC, their identity, the drain deadline, probes and the backends', () => {
    const { objects } = render(
      pool({
        backends: { configMapRef: { name: 'shop-backends' }, secretRef: { name: 'shop-secrets' } },
        env: [{ name: 'DURABLE_LOG_LEVEL', value: 'debug' }],
        drainTimeoutSeconds: 60,
        resources: { requests: { cpu: '250m' } },
      }),
    );
    const role = find(objects, 'Role');
    assert.deepEqual(role.rules[0].resources, ['leases']);
    assert.ok(['get', 'list', 'create', 'update', 'delete'].every((verb) => role.rules[0].verbs.includes(verb)));
    assert.deepEqual(find(objects, 'RoleBinding').subjects, [
      { kind: 'ServiceAccount', name: 'shop-workflow', namespace: 'prod' },
    ]);
    const deployment = find(objects, 'Deployment');
    assert.equal(deployment.spec.replicas, 1);
    const podSpec = deployment.spec.template.spec;
    assert.equal(podSpec.terminationGracePeriodSeconds, 60);
    assert.equal(podSpec.serviceAccountName, 'shop-workflow');
    const [container] = podSpec.containers;
    assert.deepEqual(container.args, ['worker', 'shop/app.ts']);
    const env = new Map(container.env.map((e: any) => [e.name, e]));
    assert.deepEqual((env.get('POD_NAME') as any).valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.equal((env.get('DURABLE_POOL') as any).value, 'workflow.shop');
    assert.equal((env.get('DURABLE_DRAIN_TIMEOUT_MS') as any).value, '58000', 'the worker gives up before SIGKILL');
    assert.equal(container.env.at(-1).name, 'DURABLE_LOG_LEVEL', "the pool's own env comes last");
    assert.deepEqual(container.envFrom, [
      { configMapRef: { name: 'shop-backends' } },
      { secretRef: { name: 'shop-secrets' } },
    ]);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.deepEqual(container.resources, { requests: { cpu: '250m' } });
    // With a service account of the user's, none is created, and the Role is bound to theirs.
    const own = render(pool({ serviceAccountName: 'shop-sa' })).objects;
    assert.equal(
      own.find((o) => o.kind === 'ServiceAccount'),
      undefined,
    );
    assert.equal(find(own, 'RoleBinding').subjects[0].name, 'shop-sa');
  });

  it('leaves the replica count to the autoscaler when there is one', () => {
    const deployment = find(render(pool({ replicas: 3, autoscaling: { maxReplicas: 5 } })).objects, 'Deployment');
    assert.equal('replicas' in deployment.spec, false);
    assert.equal(find(render(pool({ replicas: 3 })).objects, 'Deployment').spec.replicas, 3);
  });

  it('scales on queue depth through an External metric, or on CPU', () => {
    const byQueue = find(
      render(pool({ autoscaling: { minReplicas: 2, maxReplicas: 9, queueDepthPerWorker: 100 } })).objects,
      'HorizontalPodAutoscaler',
    );
    assert.deepEqual(byQueue.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'shop-workflow' });
    assert.equal(byQueue.spec.minReplicas, 2);
    assert.equal(byQueue.spec.maxReplicas, 9);
    assert.deepEqual(byQueue.spec.metrics, [
      {
        type: 'External',
        external: {
          metric: { name: 'durable_queue_depth', selector: { matchLabels: { service: 'shop-workflow' } } },
          target: { type: 'AverageValue', averageValue: '100' },
        },
      },
    ]);
    const byCpu = find(
      render(pool({ autoscaling: { maxReplicas: 4, cpuUtilization: 70 } })).objects,
      'HorizontalPodAutoscaler',
    );
    assert.equal(byCpu.spec.metrics[0].resource.target.averageUtilization, 70);
  });

  it('gives KEDA a beanstalkd trigger per tube, each partition a share of the target', () => {
    const scaled = find(
      render(pool({ autoscaling: { maxReplicas: 4, queueDepthPerWorker: 64, provider: 'keda' } }), {
        server: 'beanstalkd:11300',
        tubes: ['shop.orchestrations.p0', 'shop.orchestrations.p1', 'shop.activities'],
        partitions: 2,
      }).objects,
      'ScaledObject',
    );
    assert.equal(scaled.spec.maxReplicaCount, 4);
    assert.deepEqual(
      scaled.spec.triggers.map((t: any) => [t.type, t.metadata.tube, t.metadata.value, t.metadata.server]),
      [
        ['beanstalkd', 'shop.orchestrations.p0', '32', 'beanstalkd:11300'],
        ['beanstalkd', 'shop.orchestrations.p1', '32', 'beanstalkd:11300'],
        ['beanstalkd', 'shop.activities', '64', 'beanstalkd:11300'],
      ],
    );
  });

  it('tells the workers what to serve in a form the worker accepts', () => {
    assert.deepEqual(workerServes(pool(), 'kind').loops, { orchestrations: true, activities: true });
    assert.deepEqual(workerServes(pool(), 'kind').selection, { kinds: ['orchestrations', 'entities', 'activities'] });
    const named = workerServes(pool({ serves: { entities: false, activities: ['charge'] } }), 'function');
    assert.deepEqual(named.selection, {
      kinds: ['orchestrations', 'activities'],
      functions: { entities: [], activities: ['charge'] },
    });
    const orchestrationsOnly = workerServes(pool({ serves: { entities: false, activities: [] } }), 'kind');
    assert.deepEqual(orchestrationsOnly.selection.kinds, ['orchestrations']);
    assert.deepEqual(orchestrationsOnly.loops, { orchestrations: true, activities: false });
    const entities = workerServes(pool({ serves: { entities: ['counter'] } }, 'Entity'), 'function');
    assert.deepEqual(entities.selection, { kinds: ['entities'], functions: { entities: ['counter'], activities: [] } });
    assert.deepEqual(servesEnv(pool({}, 'Entity')), { DURABLE_SERVES: 'entities' });
  });

  it('finds what the schema lets through but cannot work, and says what to change', () => {
    assert.deepEqual(specProblems(pool()), []);
    const cases: [Partial<Pool['spec']>, RegExp][] = [
      [{ autoscaling: { minReplicas: 5, maxReplicas: 2 } }, /minReplicas \(5\) exceeds autoscaling.maxReplicas \(2\)/],
      [{ autoscaling: { maxReplicas: 2, queueDepthPerWorker: 5, cpuUtilization: 50 } }, /one target/],
      [{ autoscaling: { maxReplicas: 2, provider: 'keda' } }, /keda needs a target/],
      [{ serves: { activities: ['charge'] } }, /set serves.entities to false/],
      [{ image: 'Registry Example/shop' }, /not an image reference/],
      [{ env: [{ name: 'DURABLE_SERVES', value: 'activities' }] }, /set by the operator/],
      [{ env: [{ name: '1BAD', value: 'x' }] }, /not a valid variable name/],
    ];
    for (const [spec, message] of cases) assert.match(specProblems(pool(spec)).join('; '), message);
  });
});

describe('operator status', () => {
  const deployment = (replicas: number, ready: number, updated = replicas, observed = 2): any => ({
    metadata: { generation: 2 },
    spec: { replicas },
    status: { observedGeneration: observed, replicas, readyReplicas: ready, updatedReplicas: updated },
  });
  const conditions = (status: ReturnType<typeof poolStatus>): Record<string, string> =>
    Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));

  it('follows the Deployment: progressing while it rolls out, ready when every worker is', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const rolling = poolStatus(undefined, { generation: 3, deployment: deployment(3, 1, 1), selector: 's' }, t0);
    assert.deepEqual(conditions(rolling), {
      Degraded: 'False AsExpected',
      Progressing: 'True RollingOut',
      Ready: 'False WorkersNotReady',
    });
    assert.equal(rolling.ready, '1/3');
    assert.equal(rolling.observedGeneration, 3);
    const t1 = new Date('2026-01-01T00:01:00Z');
    const done = poolStatus(rolling, { generation: 3, deployment: deployment(3, 3), selector: 's' }, t1);
    assert.deepEqual(conditions(done), {
      Degraded: 'False AsExpected',
      Progressing: 'False RolledOut',
      Ready: 'True WorkersReady',
    });
    const times = Object.fromEntries((done.conditions ?? []).map((c) => [c.type, c.lastTransitionTime]));
    assert.equal(times.Degraded, t0.toISOString(), 'a condition that kept its status keeps its transition time');
    assert.equal(times.Ready, t1.toISOString());
    // Rebuilt later with nothing changed: equal, so nothing is written.
    const again = poolStatus(done, { generation: 3, deployment: deployment(3, 3), selector: 's' }, new Date());
    assert.ok(statusEqual(done, again));
    // A Deployment that has not seen its latest spec is still rolling out, whatever its counts say.
    const stale = poolStatus(done, { generation: 4, deployment: deployment(3, 3, 3, 1), selector: 's' }, t1);
    assert.equal(conditions(stale).Progressing, 'True RollingOut');
  });

  it('reports a problem as Degraded with its reason and message', () => {
    const status = poolStatus(
      undefined,
      {
        generation: 1,
        deployment: undefined,
        selector: '',
        problem: { reason: 'InvalidSpec', message: 'autoscaling.minReplicas (5) exceeds autoscaling.maxReplicas (2)' },
      },
      new Date(),
    );
    const degraded = status.conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.status, 'True');
    assert.equal(degraded?.reason, 'InvalidSpec');
    assert.match(degraded?.message ?? '', /exceeds/);
    assert.equal(conditions(status).Ready, 'False Degraded');
  });
});

describe('operator apply decisions', () => {
  it('applies when a field is missing or different, or when a field was dropped from what it applies', () => {
    const desired = withAppliedHash({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', labels: { a: '1' } },
      spec: { ports: [{ port: 1 }] },
    } as KubernetesObject);
    const live = JSON.parse(JSON.stringify(desired));
    live.metadata.resourceVersion = '7';
    live.metadata.labels.other = 'theirs';
    live.spec.ports[0].protocol = 'TCP';
    assert.equal(needsApply(desired, live), false, 'fields others added are theirs');
    assert.equal(needsApply(desired, undefined), true);
    const listed = { ...live, apiVersion: undefined, kind: undefined };
    assert.equal(needsApply(desired, listed), false, 'a listed object (no apiVersion or kind) is the same object');
    live.spec.ports[0].port = 2;
    assert.equal(needsApply(desired, live), true, 'a changed field is put back');
    const dropped = withAppliedHash({ ...desired, metadata: { name: 's' } });
    const liveOfOld = JSON.parse(JSON.stringify(desired));
    assert.equal(needsApply(dropped, liveOfOld), true, 'a label no longer applied is removed by an apply');
    assert.equal(contains([1, 2], [1]), false, 'lists match element by element');
  });
});
