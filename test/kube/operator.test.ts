/**
 * The operator against the Kubernetes API test server, driven with kubectl as a user drives it. The test server
 * runs no controllers: where a Deployment controller would fill in a status, the test does, with kubectl.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import type { Kubectl } from './kubectl.js';
import { OWNED, ROOT, settled, withOperator } from './operator-fixture.js';

function workflow(name: string, spec: string): string {
  return `apiVersion: durable.dev/v1alpha1\nkind: Workflow\nmetadata: { name: ${name} }\nspec: ${spec}\n`;
}

function conditions(server: KubeApiServer, name: string, plural = 'workflows'): Record<string, string> {
  const pool = server.read('durable.dev', plural, 'default', name);
  return Object.fromEntries((pool?.status?.conditions ?? []).map((c: any) => [c.type, `${c.status} ${c.reason}`]));
}

/** Fills in a Deployment's status as the Deployment controller would. */
async function deploymentStatus(kubectl: Kubectl, name: string, replicas: number, ready: number): Promise<void> {
  const generation = JSON.parse(await kubectl.ok('get', 'deployment', name, '-o', 'json')).metadata.generation;
  const status = {
    observedGeneration: generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: ready,
    availableReplicas: ready,
  };
  await kubectl.ok(
    'patch',
    'deployment',
    name,
    '--subresource',
    'status',
    '--type',
    'merge',
    '-p',
    JSON.stringify({ status }),
  );
}

describe('the operator', function () {
  this.timeout(60_000);
  const k8s = withOperator();

  it('turns the example Workflow into its Deployment, RBAC, Service, PDB and HPA, and lists it with its columns', async () => {
    const { server, kubectl } = k8s;
    await kubectl.ok('apply', '-f', join(ROOT, 'examples/k8s/workflow.yaml'));
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow') !== undefined,
      'a Deployment',
      10_000,
    );
    await settled(server);

    const shop = server.read('durable.dev', 'workflows', 'default', 'shop');
    assert.deepEqual(shop?.metadata.finalizers, ['durable.dev/cleanup']);
    for (const [group, plural] of [...OWNED, ['autoscaling', 'horizontalpodautoscalers'] as [string, string]]) {
      const object = server.read(group, plural, 'default', 'shop-workflow');
      assert.ok(object, `${plural} shop-workflow exists`);
      assert.equal(object.metadata.ownerReferences?.[0]?.uid, shop?.metadata.uid, `${plural} is owned by the Workflow`);
      assert.equal(object.metadata.managedFields?.[0]?.manager, 'durable-operator');
    }
    const pod = server.read('apps', 'deployments', 'default', 'shop-workflow')?.spec.template.spec;
    assert.equal(pod.containers[0].image, 'registry.example.com/shop:1.0.0');
    assert.deepEqual(pod.containers[0].args, ['worker', 'examples/app.ts']);
    assert.deepEqual(pod.containers[0].envFrom, [{ configMapRef: { name: 'shop-backends' } }]);
    assert.equal(pod.terminationGracePeriodSeconds, 60);
    const hpa = server.read('autoscaling', 'horizontalpodautoscalers', 'default', 'shop-workflow');
    assert.equal(hpa?.spec.maxReplicas, 10);
    assert.equal(hpa?.spec.metrics[0].external.target.averageValue, '100');

    assert.equal(shop?.status.observedGeneration, 1);
    assert.match(shop?.status.selector, /durable.dev\/workflow=shop/);
    const table = await kubectl.ok('get', 'workflows');
    assert.match(table, /^NAME\s+READY\s+QUEUE\s+STATUS\s+AGE\n/);
    assert.match(table, /\nshop\s+0\/1\s+WorkersNotReady\s+\d+s\n/);
  });

  it('makes no request at all when it reconciles a pool that is as its spec says', async () => {
    const { server, kubectl, controller } = k8s;
    await kubectl.ok('apply', '-f', join(ROOT, 'examples/k8s/workflow.yaml'));
    await until(
      () => server.read('autoscaling', 'horizontalpodautoscalers', 'default', 'shop-workflow') !== undefined,
      'an HPA',
      10_000,
    );
    await settled(server);
    server.resetRequestCounts();
    for (let i = 0; i < 5; i++) await controller.reconcileNow('Workflow', 'default', 'shop');
    assert.deepEqual(server.requestCounts(), {}, 'reads come from the informers, and nothing is written');
  });

  it('rolls the Deployment when the image changes, and its conditions follow the rollout', async () => {
    const { server, kubectl } = k8s;
    await kubectl.ok(
      'apply',
      '-f',
      kubectl.file('w.yaml', workflow('shop', '{ image: "shop:1", app: app.ts, replicas: 2 }')),
    );
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow') !== undefined,
      'a Deployment',
      10_000,
    );
    await deploymentStatus(kubectl, 'shop-workflow', 2, 2);
    await until(() => conditions(server, 'shop').Ready === 'True WorkersReady', 'Ready', 10_000);
    assert.equal(conditions(server, 'shop').Progressing, 'False RolledOut');

    await kubectl.ok('patch', 'workflow', 'shop', '--type', 'merge', '-p', '{"spec":{"image":"shop:2"}}');
    await until(
      () =>
        server.read('apps', 'deployments', 'default', 'shop-workflow')?.spec.template.spec.containers[0].image ===
        'shop:2',
      'the new image in the Deployment',
      10_000,
    );
    assert.equal(server.read('apps', 'deployments', 'default', 'shop-workflow')?.metadata.generation, 2);
    await until(() => conditions(server, 'shop').Progressing === 'True RollingOut', 'Progressing', 10_000);
    assert.equal(conditions(server, 'shop').Ready, 'False WorkersNotReady');
    assert.equal(server.read('durable.dev', 'workflows', 'default', 'shop')?.status.observedGeneration, 2);

    await deploymentStatus(kubectl, 'shop-workflow', 2, 2);
    await until(() => conditions(server, 'shop').Ready === 'True WorkersReady', 'Ready again', 10_000);
    assert.equal(conditions(server, 'shop').Progressing, 'False RolledOut');
    assert.match(await kubectl.ok('get', 'wf', 'shop'), /shop\s+2\/2\s+WorkersReady/);

    // kubectl scale goes through the Workflow's scale subresource to the Deployment.
    await kubectl.ok('scale', 'workflow', 'shop', '--replicas=3');
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow')?.spec.replicas === 3,
      'scaled',
      10_000,
    );
  });

  it('sets Degraded for a spec the schema let through, records an Event, and waits quietly for a fix', async () => {
    const { server, kubectl } = k8s;
    const bad = '{ image: "shop:1", app: app.ts, autoscaling: { minReplicas: 5, maxReplicas: 2 } }';
    await kubectl.ok('apply', '-f', kubectl.file('w.yaml', workflow('shop', bad)));
    await until(() => conditions(server, 'shop').Degraded === 'True InvalidSpec', 'Degraded', 10_000);
    const degraded = server
      .read('durable.dev', 'workflows', 'default', 'shop')
      ?.status.conditions.find((c: any) => c.type === 'Degraded');
    assert.match(degraded.message, /autoscaling.minReplicas \(5\) exceeds autoscaling.maxReplicas \(2\)/);
    assert.equal(server.read('apps', 'deployments', 'default', 'shop-workflow'), undefined, 'nothing is created');
    const events = JSON.parse(await kubectl.ok('get', 'events', '-o', 'json')).items;
    assert.deepEqual(
      events.map((e: any) => [e.involvedObject.kind, e.involvedObject.name, e.type, e.reason]),
      [['Workflow', 'shop', 'Warning', 'InvalidSpec']],
    );

    await settled(server);
    server.resetRequestCounts();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(server.requestCounts(), {}, 'no retry loop on a spec only its author can fix');

    await kubectl.ok(
      'patch',
      'workflow',
      'shop',
      '--type',
      'merge',
      '-p',
      '{"spec":{"autoscaling":{"minReplicas":1}}}',
    );
    await until(() => conditions(server, 'shop').Degraded === 'False AsExpected', 'fixed', 10_000);
    assert.ok(server.read('apps', 'deployments', 'default', 'shop-workflow'));
  });

  it('deletes what a pool no longer needs: the HPA once autoscaling is removed', async () => {
    const { server, kubectl } = k8s;
    await kubectl.ok('apply', '-f', join(ROOT, 'examples/k8s/workflow.yaml'));
    await until(
      () => server.read('autoscaling', 'horizontalpodautoscalers', 'default', 'shop-workflow') !== undefined,
      'an HPA',
      10_000,
    );
    await kubectl.ok(
      'patch',
      'workflow',
      'shop',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/spec/autoscaling"}]',
    );
    await until(
      () => server.read('autoscaling', 'horizontalpodautoscalers', 'default', 'shop-workflow') === undefined,
      'the HPA gone',
      10_000,
    );
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow')?.spec.replicas === 1,
      'replicas set',
      10_000,
    );
  });

  it('on deletion, removes the Deployment, then its Leases, and lets owner references take the rest', async () => {
    const { server, kubectl } = k8s;
    await kubectl.ok('apply', '-f', kubectl.file('w.yaml', workflow('shop', '{ image: "shop:1", app: app.ts }')));
    await kubectl.ok('apply', '-f', kubectl.file('e.yaml', workflow('other', '{ image: "shop:1", app: app.ts }')));
    await until(
      () => server.read('apps', 'deployments', 'default', 'other-workflow') !== undefined,
      'Deployments',
      10_000,
    );
    // The Leases the workers of two pools of one app would hold: a member Lease each, and the app's partitions.
    await kubectl.ok(
      'apply',
      '-f',
      kubectl.file(
        'leases.yaml',
        leases('shop-app', [
          ['workflow.shop', 'a'],
          ['workflow.other', 'b'],
        ]),
      ),
    );

    await kubectl.ok('delete', 'workflow', 'shop', '--timeout=20s');
    assert.equal(server.read('durable.dev', 'workflows', 'default', 'shop'), undefined);
    for (const [group, plural] of OWNED) {
      await until(() => server.read(group, plural, 'default', 'shop-workflow') === undefined, `${plural} gone`, 5000);
    }
    const left = async (): Promise<string[]> =>
      JSON.parse(await kubectl.ok('get', 'leases', '-o', 'json'))
        .items.map((l: any) => l.metadata.name)
        .sort();
    assert.deepEqual(
      await left(),
      ['durable-shop-app-m-b', 'durable-shop-app-p00', 'durable-shop-app-p01'],
      "the other pool's stay",
    );
    assert.ok(server.read('apps', 'deployments', 'default', 'other-workflow'), 'the other pool is untouched');

    await kubectl.ok('delete', 'workflow', 'other', '--timeout=20s');
    assert.deepEqual(await left(), [], 'the last pool of the app takes the partition Leases with it');
  });

  it('finishes a deletion made while it was down once it is back', async () => {
    const { server, kubectl } = k8s;
    await kubectl.ok('apply', '-f', kubectl.file('w.yaml', workflow('shop', '{ image: "shop:1", app: app.ts }')));
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow') !== undefined,
      'a Deployment',
      10_000,
    );
    await settled(server);
    await k8s.controller.stop();

    await kubectl.ok('delete', 'workflow', 'shop', '--wait=false');
    const held = server.read('durable.dev', 'workflows', 'default', 'shop');
    assert.ok(held?.metadata.deletionTimestamp, 'the finalizer holds the Workflow');
    assert.ok(server.read('apps', 'deployments', 'default', 'shop-workflow'));

    await k8s.startOperator();
    await until(
      () => server.read('durable.dev', 'workflows', 'default', 'shop') === undefined,
      'the Workflow gone',
      10_000,
    );
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow') === undefined,
      'Deployment gone',
      5000,
    );
  });

  it('gives KEDA a trigger per tube, follows a changed backends ConfigMap, and reads it no more than that', async () => {
    const { server, kubectl } = k8s;
    // KEDA's CRD (only what discovery and storage need): the operator watches ScaledObjects when the API serves them.
    await kubectl.ok('apply', '-f', kubectl.file('keda.yaml', KEDA_CRD));
    await kubectl.ok('wait', '--for', 'condition=established', 'crd/scaledobjects.keda.sh', '--timeout=10s');
    await k8s.controller.stop();
    const controller = await k8s.startOperator({ queueDepthIntervalMs: 100 });
    const backends = (namespace: string): string =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: shop-backends }\ndata: ${JSON.stringify({
        DURABLE_QUEUE_URL: 'beanstalkd://beanstalkd.shop:11300',
        DURABLE_NAMESPACE: namespace,
      })}\n`;
    await kubectl.ok('apply', '-f', kubectl.file('cm.yaml', backends('shop')));
    const spec =
      '{ image: "shop:1", app: app.ts, backends: { configMapRef: { name: shop-backends } }, ' +
      'autoscaling: { maxReplicas: 4, queueDepthPerWorker: 10, provider: keda } }';
    await kubectl.ok('apply', '-f', kubectl.file('w.yaml', workflow('shop', spec)));
    const tubes = (): string[] =>
      (server.read('keda.sh', 'scaledobjects', 'default', 'shop-workflow')?.spec.triggers ?? []).map(
        (t: any) => `${t.type} ${t.metadata.server} ${t.metadata.tube} ${t.metadata.value}`,
      );
    await until(() => tubes().length > 0, 'a ScaledObject', 10_000);
    assert.deepEqual(tubes(), [
      'beanstalkd beanstalkd.shop:11300 shop.orchestrations 10',
      'beanstalkd beanstalkd.shop:11300 shop.entities 10',
      'beanstalkd beanstalkd.shop:11300 shop.activities 10',
    ]);
    assert.equal(server.read('autoscaling', 'horizontalpodautoscalers', 'default', 'shop-workflow'), undefined);

    await settled(server);
    server.resetRequestCounts();
    for (let i = 0; i < 5; i++) await controller.reconcileNow('Workflow', 'default', 'shop');
    assert.deepEqual(server.requestCounts(), {}, 'the tubes come from what the queue-depth pass read');

    await kubectl.ok('apply', '-f', kubectl.file('cm.yaml', backends('shop-eu')));
    await until(
      () => tubes()[0]?.includes('shop-eu.orchestrations') === true,
      'the triggers follow the ConfigMap',
      10_000,
    );
  });

  it('reconciles an Entity pool as a pool of entity workers', async () => {
    const { server, kubectl } = k8s;
    const entity =
      'apiVersion: durable.dev/v1alpha1\nkind: Entity\nmetadata: { name: shop }\n' +
      'spec: { image: "shop:1", app: app.ts, serves: { entities: [counter] } }\n';
    await kubectl.ok('apply', '-f', kubectl.file('e.yaml', entity));
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-entity') !== undefined,
      'a Deployment',
      10_000,
    );
    const env = server.read('apps', 'deployments', 'default', 'shop-entity')?.spec.template.spec.containers[0].env;
    const value = (name: string): string | undefined => env.find((e: any) => e.name === name)?.value;
    assert.equal(value('DURABLE_SERVES'), 'entities');
    assert.equal(value('DURABLE_FUNCTIONS'), 'counter');
    assert.equal(value('DURABLE_POOL'), 'entity.shop');
    assert.match(await kubectl.ok('get', 'ent'), /\nshop\s+0\/1\s+/);
  });
});

function leases(app: string, members: [pool: string, id: string][]): string {
  const lease = (name: string, labels: Record<string, string>): string =>
    `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: ${name}\n  labels: ${JSON.stringify({
      'app.kubernetes.io/managed-by': 'durable',
      'durable.dev/app': app,
      ...labels,
    })}\nspec: { holderIdentity: x, leaseDurationSeconds: 15 }\n`;
  return [
    ...members.map(([pool, id]) =>
      lease(`durable-${app}-m-${id}`, { 'durable.dev/role': 'member', 'durable.dev/pool': pool }),
    ),
    lease(`durable-${app}-p00`, { 'durable.dev/role': 'partition', 'durable.dev/partition': '0' }),
    lease(`durable-${app}-p01`, { 'durable.dev/role': 'partition', 'durable.dev/partition': '1' }),
  ].join('---\n');
}

/** KEDA's ScaledObject CRD, reduced to what the test server needs to serve and store it. */
const KEDA_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: scaledobjects.keda.sh }
spec:
  group: keda.sh
  scope: Namespaced
  names: { plural: scaledobjects, singular: scaledobject, kind: ScaledObject, listKind: ScaledObjectList }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`;
