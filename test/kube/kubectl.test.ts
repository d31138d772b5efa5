/**
 * The real kubectl (v1.32 on this machine) against the test server, through a generated kubeconfig. Each test
 * checks what a user would: the exit code, what kubectl prints, and the object the server then holds, and
 * counts the requests kubectl made. The tests run in order and build on each other's objects, as a session
 * at a terminal does.
 */
import assert from 'node:assert/strict';
import type { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import type { Kubectl } from './kubectl.js';
import { withKubectl } from './kubectl.js';
import { configMap, crd, deployment, durableApp, lease } from './manifests.js';

describe('kubectl against the Kubernetes test server', function () {
  this.timeout(30_000);
  const k8s = withKubectl('all');
  let server: KubeApiServer;
  let kubectl: Kubectl;
  beforeEach(() => {
    ({ server, kubectl } = k8s);
  });

  it('applies a ConfigMap, a Lease and a Deployment, then reapplies only what changed', async () => {
    const files = [
      kubectl.file('cm.yaml', configMap('cluster')),
      kubectl.file('lease.yaml', lease('pod-a')),
      kubectl.file('deploy.yaml', deployment('durable:1')),
    ];
    const first = await kubectl.ok('apply', ...files.flatMap((f) => ['-f', f]));
    assert.match(first, /configmap\/settings created/);
    assert.match(first, /lease.coordination.k8s.io\/partition-0 created/);
    assert.match(first, /deployment.apps\/worker created/);

    kubectl.file('cm.yaml', configMap('single'));
    server.resetRequestCounts();
    const second = await kubectl.ok('apply', '-f', files[0]!, '-f', files[1]!);
    assert.match(second, /configmap\/settings configured/);
    assert.match(second, /partition-0 unchanged/);
    assert.equal(server.read('', 'configmaps', 'default', 'settings')?.data.mode, 'single');
    // Built-in kinds are patched with strategic merge patch, and an unchanged object is not written at all.
    assert.equal(server.requestCount({ verb: 'patch', resource: 'configmaps' }), 1);
    assert.equal(server.requestCount({ verb: 'patch', resource: 'leases' }), 0);
  });

  it('lists objects as tables with the columns kubectl prints', async () => {
    server.resetRequestCounts();
    const result = await kubectl.ok('get', 'configmaps,leases,deployments');
    assert.match(result, /NAME\s+DATA\s+AGE\nconfigmap\/settings\s+1\s+\d+s/);
    assert.match(result, /NAME\s+HOLDER\s+AGE\nlease.coordination.k8s.io\/partition-0\s+pod-a\s+\d+s/);
    assert.match(result, /NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\ndeployment.apps\/worker\s+0\/2\s+0\s+0\s+\d+s/);
    assert.equal(server.requestCount({ verb: 'list' }), 3);
  });

  it('prints the stored object with get -o json, server-set metadata included', async () => {
    const result = await kubectl.ok('get', 'deployment', 'worker', '-o', 'json');
    const printed = JSON.parse(result);
    const stored = server.read('apps', 'deployments', 'default', 'worker')!;
    assert.equal(printed.metadata.uid, stored.metadata.uid);
    assert.equal(printed.metadata.resourceVersion, stored.metadata.resourceVersion);
    assert.equal(printed.metadata.generation, 1);
    assert.equal(printed.spec.template.spec.containers[0].image, 'durable:1');
  });

  it('streams changes to get -w until it is killed', async () => {
    const watch = kubectl.spawn('get', 'leases', '-w');
    let output = '';
    watch.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until(() => /partition-0\s+pod-a/.test(output), 'get -w prints the lease', 10_000);
      await kubectl.ok('patch', 'lease', 'partition-0', '--type', 'merge', '-p', '{"spec":{"holderIdentity":"pod-b"}}');
      await until(() => /partition-0\s+pod-b/.test(output), 'get -w prints the new holder', 10_000);
    } finally {
      watch.kill();
    }
    assert.ok(server.requestCount({ verb: 'watch', resource: 'leases' }) >= 1);
  });

  it('scales a deployment through its scale subresource, bumping its generation', async () => {
    server.resetRequestCounts();
    const result = await kubectl.ok('scale', 'deployment', 'worker', '--replicas=5');
    assert.match(result, /deployment.apps\/worker scaled/);
    const stored = server.read('apps', 'deployments', 'default', 'worker')!;
    assert.equal(stored.spec.replicas, 5);
    assert.equal(stored.metadata.generation, 2);
    assert.equal(server.requestCount({ verb: 'patch', resource: 'deployments/scale' }), 1);
  });

  it('patches with merge, JSON and strategic merge patches', async () => {
    const merge = await kubectl.run(
      'patch',
      'configmap',
      'settings',
      '--type',
      'merge',
      '-p',
      '{"data":{"extra":"yes"}}',
    );
    assert.equal(merge.code, 0, merge.stderr);
    const json = await kubectl.run(
      'patch',
      'configmap',
      'settings',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/data/mode"}]',
    );
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(server.read('', 'configmaps', 'default', 'settings')?.data, { extra: 'yes' });

    const env =
      '{"spec":{"template":{"spec":{"containers":[{"name":"worker","env":[{"name":"LEVEL","value":"debug"}]}]}}}}';
    await kubectl.ok('patch', 'deployment', 'worker', '-p', env);
    const [container] = server.read('apps', 'deployments', 'default', 'worker')!.spec.template.spec.containers;
    // Containers merge by name and env by name: the image and the first variable survive the patch.
    assert.equal(container.image, 'durable:1');
    assert.deepEqual(
      container.env.map((e: { name: string }) => e.name),
      ['DURABLE_LOCK', 'LEVEL'],
    );

    const badTest = await kubectl.run(
      'patch',
      'configmap',
      'settings',
      '--type',
      'json',
      '-p',
      '[{"op":"test","path":"/data/extra","value":"no"}]',
    );
    assert.notEqual(badTest.code, 0);
  });

  it('refuses a server-side apply that takes a field another manager owns, unless forced', async () => {
    const file = kubectl.file('lease.yaml', lease('pod-b'));
    const own = await kubectl.run('apply', '--server-side', '-f', file);
    assert.equal(own.code, 0, own.stderr);
    kubectl.file('lease.yaml', lease('pod-c'));
    const conflicting = await kubectl.run('apply', '--server-side', '--field-manager', 'durable-worker', '-f', file);
    assert.equal(conflicting.code, 1);
    // The earlier `kubectl patch` (manager kubectl-patch) and this apply's manager co-own the holder: both conflict.
    assert.match(conflicting.stderr, /Apply failed with 2 conflicts/);
    assert.match(
      conflicting.stderr,
      /conflict with "kubectl-patch" using coordination.k8s.io\/v1: .spec.holderIdentity/,
    );
    assert.match(conflicting.stderr, /conflict with "kubectl" using coordination.k8s.io\/v1: .spec.holderIdentity/);
    assert.equal(server.read('coordination.k8s.io', 'leases', 'default', 'partition-0')?.spec.holderIdentity, 'pod-b');

    await kubectl.ok('apply', '--server-side', '--field-manager', 'durable-worker', '--force-conflicts', '-f', file);
    const stored = server.read('coordination.k8s.io', 'leases', 'default', 'partition-0')!;
    assert.equal(stored.spec.holderIdentity, 'pod-c');
    const owner = stored.metadata.managedFields.find((m: { manager: string }) => m.manager === 'durable-worker');
    assert.deepEqual(owner.fieldsV1['f:spec'], { 'f:holderIdentity': {}, 'f:leaseDurationSeconds': {} });
  });

  it('serves a custom resource once its CRD is established, with defaults, validation and printer columns', async () => {
    await kubectl.installCrds(kubectl.file('crd.yaml', crd), 'durableapps.durable.dev');

    await kubectl.ok('apply', '-f', kubectl.file('app.yaml', durableApp('{image: "shop:1"}')));
    assert.equal(
      server.read('durable.dev', 'durableapps', 'default', 'shop')?.spec.workers,
      3,
      'the schema default is applied',
    );

    const unknown = await kubectl.run(
      'apply',
      '-f',
      kubectl.file('bad.yaml', durableApp('{image: "x", bogus: 1}').replace('shop', 'bad')),
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown field "spec.bogus"/);
    const wrongType = await kubectl.run(
      'apply',
      '-f',
      kubectl.file('bad.yaml', durableApp('{workers: "many"}').replace('shop', 'bad')),
    );
    assert.equal(wrongType.code, 1);
    assert.match(wrongType.stderr, /spec.image: Required value/);
    assert.match(
      wrongType.stderr,
      /spec.workers: Invalid value: "string": spec.workers in body must be of type integer/,
    );

    const status = await kubectl.run(
      'patch',
      'dapp',
      'shop',
      '--subresource',
      'status',
      '--type',
      'merge',
      '-p',
      '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}',
    );
    assert.equal(status.code, 0, status.stderr);
    const table = await kubectl.run('get', 'dapp');
    assert.match(table.stdout, /NAME\s+WORKERS\s+READY\s+AGE\nshop\s+3\s+True\s+\d+s/);
    assert.equal(
      server.read('durable.dev', 'durableapps', 'default', 'shop')?.metadata.generation,
      1,
      'a status write is not a spec change',
    );
  });

  it('deletes objects, keeping one with finalizers until they are removed', async () => {
    await kubectl.ok('delete', 'configmap', 'settings');
    assert.equal(server.read('', 'configmaps', 'default', 'settings'), undefined);

    await kubectl.run(
      'patch',
      'dapp',
      'shop',
      '--type',
      'merge',
      '-p',
      '{"metadata":{"finalizers":["durable.dev/drain"]}}',
    );
    await kubectl.ok('delete', 'dapp', 'shop', '--wait=false');
    assert.ok(server.read('durable.dev', 'durableapps', 'default', 'shop')?.metadata.deletionTimestamp);
    await kubectl.ok(
      'patch',
      'dapp',
      'shop',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    );
    assert.equal(server.read('durable.dev', 'durableapps', 'default', 'shop'), undefined);
    const gone = await kubectl.run('get', 'dapp', 'shop');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /durableapps.durable.dev "shop" not found/);
  });

  it('applies a StatefulSet and finds it again by its short name', async () => {
    const manifest = [
      'apiVersion: apps/v1',
      'kind: StatefulSet',
      'metadata: { name: queue }',
      'spec:',
      '  serviceName: queue',
      '  selector: { matchLabels: { app: queue } }',
      '  template:',
      '    metadata: { labels: { app: queue } }',
      '    spec: { containers: [{ name: beanstalkd, image: beanstalkd:1 }] }',
    ].join('\n');
    assert.match(
      await kubectl.ok('apply', '-f', kubectl.file('sts.yaml', manifest)),
      /statefulset.apps\/queue created/,
    );
    assert.match(await kubectl.ok('get', 'sts'), /\nqueue\s+\d+s/);
    assert.equal(server.read('apps', 'statefulsets', 'default', 'queue')?.metadata.generation, 1);
  });

  it('turns kubectl away without a valid token', async () => {
    const result = await kubectl.run('--token', 'wrong', 'get', 'namespaces');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /You must be logged in to the server/);
    assert.ok(server.requests().some((r) => r.status === 401));
  });
});
