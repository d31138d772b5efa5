/**
 * The operator against the Kubernetes API test server, driven with kubectl as a user drives it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { until } from '../helpers/until.js';
import { ROOT, settled, withOperator } from './operator-fixture.js';

const WRITES = ['create', 'update', 'patch', 'delete', 'deletecollection'];

function writes(server: { requests(): { verb: string; resource: string }[] }): string[] {
  return server
    .requests()
    .filter((r) => WRITES.includes(r.verb))
    .map((r) => `${r.verb} ${r.resource}`);
}

describe('the operator', function () {
  this.timeout(60_000);
  const k8s = withOperator();

  it('turns the example Workflow into a Deployment, RBAC, a Service, an HPA and a PDB, and lists it', async () => {
    const { server, kubectl } = k8s;
    await kubectl.ok('apply', '-f', join(ROOT, 'examples/k8s/workflow.yaml'));
    await until(
      () => server.read('autoscaling', 'horizontalpodautoscalers', 'default', 'shop-workflow') !== undefined,
      'the HPA exists',
      10_000,
    );
    await settled(server);
    const deployment = server.read('apps', 'deployments', 'default', 'shop-workflow');
    const container = deployment?.spec.template.spec.containers[0];
    assert.equal(container.image, 'registry.example.com/shop:1.0.0');
    assert.deepEqual(container.args, ['worker', 'examples/app.ts']);
    console.log(JSON.stringify(server.requestCounts()));
    console.log(await kubectl.ok('get', 'workflows'));
  });
});
