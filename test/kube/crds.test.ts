/**
 * The Workflow and Entity custom resources (`crds/`, the single source) as a user meets them: applied with the real
 * `kubectl` to the Kubernetes API test server, which enforces their structural schemas and defaults, serves their
 * scale and status subresources, and prints their columns. The example manifest (`examples/k8s/workflow.yaml`) is
 * applied as the README shows it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeApiServer } from '../kube-api-server/server.js';
import type { Kubectl } from './kubectl.js';
import { withKubectl } from './kubectl.js';

const ROOT = join(import.meta.dirname, '../..');

const workflow = (name: string, spec: string): string => `apiVersion: durable.dev/v1alpha1
kind: Workflow
metadata: {name: ${name}}
spec: ${spec}
`;

describe('the Workflow and Entity resources', function () {
  this.timeout(60_000);
  const k8s = withKubectl('each', (kubectl) =>
    kubectl.installCrds(join(ROOT, 'crds'), 'workflows.durable.dev', 'entities.durable.dev'),
  );
  let server: KubeApiServer;
  let kubectl: Kubectl;
  beforeEach(() => {
    ({ server, kubectl } = k8s);
  });

  it('takes the example manifest, fills in the defaults, and lists it with its columns and short names', async () => {
    await kubectl.ok('apply', '-f', join(ROOT, 'examples/k8s/workflow.yaml'));
    const stored = server.read('durable.dev', 'workflows', 'default', 'shop');
    assert.equal(stored?.spec.replicas, 1, 'replicas defaults to 1');
    assert.equal(stored?.spec.drainTimeoutSeconds, 60);
    assert.deepEqual(stored?.spec.autoscaling, {
      minReplicas: 2,
      maxReplicas: 10,
      queueDepthPerWorker: 100,
      provider: 'hpa',
    });

    await kubectl.ok(
      'patch',
      'workflow',
      'shop',
      '--subresource',
      'status',
      '--type',
      'merge',
      '-p',
      JSON.stringify({
        status: { ready: '2/2', queueDepth: 7, conditions: [{ type: 'Ready', status: 'True', reason: 'Available' }] },
      }),
    );
    for (const name of ['workflows', 'workflow', 'wf', 'dwf']) {
      const table = await kubectl.ok('get', name);
      assert.match(table, /NAME\s+READY\s+QUEUE\s+STATUS\s+AGE\nshop\s+2\/2\s+7\s+Available\s+\d+s/, name);
    }
    const entity = await kubectl.run(
      'apply',
      '-f',
      kubectl.file(
        'entity.yaml',
        'apiVersion: durable.dev/v1alpha1\nkind: Entity\nmetadata: {name: counters}\nspec: {image: "shop:1", app: app.js, serves: {entities: [counter]}}\n',
      ),
    );
    assert.equal(entity.code, 0, entity.stderr);
    assert.match((await kubectl.run('get', 'ent')).stdout, /^counters\s/m);
    // `durable` is the resources' category: one `kubectl get durable` lists both kinds.
    const all = (await kubectl.run('get', 'durable')).stdout;
    assert.match(all, /^workflow\.durable\.dev\/shop\s/m);
    assert.match(all, /^entity\.durable\.dev\/counters\s/m);
  });

  it('scales through the scale subresource, as an HPA does', async () => {
    assert.equal(
      (await kubectl.run('apply', '-f', kubectl.file('w.yaml', workflow('w', '{image: "a:1", app: app.js}')))).code,
      0,
    );
    await kubectl.ok('scale', 'workflow', 'w', '--replicas=4');
    assert.equal(server.read('durable.dev', 'workflows', 'default', 'w')?.spec.replicas, 4);
  });

  it('refuses a spec the schema rejects, with the field and the rule, and stores nothing', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{app: app.js}', /spec.image: Required value/],
      [
        '{image: "a:1", app: app.js, replicas: -1}',
        /spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0/,
      ],
      [
        '{image: "a:1", app: app.js, autoscaling: {maxReplicas: 3, cpuUtilization: 150}}',
        /spec.autoscaling.cpuUtilization: Invalid value: 150/,
      ],
      ['{image: "a:1", app: app.js, autoscaling: {minReplicas: 2}}', /spec.autoscaling.maxReplicas: Required value/],
      ['{image: "a:1", app: app.js, drainTimeout: 5}', /unknown field "spec.drainTimeout"/],
    ];
    for (const [spec, error] of cases) {
      const result = await kubectl.run('apply', '-f', kubectl.file('bad.yaml', workflow('bad', spec)));
      assert.notEqual(result.code, 0, spec);
      assert.match(result.stderr, error, spec);
      assert.equal(server.read('durable.dev', 'workflows', 'default', 'bad'), undefined, spec);
    }
  });

  it('declares the cross-field rules (min ≤ max, one autoscaling target) as CEL validations on both kinds', () => {
    // The test server does not evaluate CEL (test/kube-api-server/schema.ts): this checks the rules are in the CRDs
    // a real API server would enforce; the operator checks the same and reports Degraded.
    for (const file of ['workflows.durable.dev.yaml', 'entities.durable.dev.yaml']) {
      const crd = yaml.load(readFileSync(join(ROOT, 'crds', file), 'utf8')) as {
        spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }[] };
      };
      const rules = (crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'] ??
        []) as { rule: string }[];
      const expected = [
        '!has(self.autoscaling) || self.autoscaling.minReplicas <= self.autoscaling.maxReplicas',
        '!has(self.autoscaling) || !has(self.autoscaling.queueDepthPerWorker) || !has(self.autoscaling.cpuUtilization)',
      ];
      if (file.startsWith('workflows')) {
        expected.push('!has(self.serves) || !has(self.serves.activities) || !self.serves.entities');
      }
      assert.deepEqual(
        rules.map((r) => r.rule),
        expected,
        file,
      );
    }
  });
});
