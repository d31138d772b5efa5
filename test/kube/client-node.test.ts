/**
 * @kubernetes/client-node 1.4 against the test server: the client the Lease lock will use. Optimistic
 * concurrency on Leases (the lock's safety), watches with resumption, and authentication.
 */
import assert from 'node:assert/strict';
import { ApiException, CoordinationV1Api, KubeConfig, Watch, type V1Lease } from '@kubernetes/client-node';
import { KubeApiServer } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';

function lease(name: string, holder: string): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: new Date(),
      renewTime: new Date(),
      leaseTransitions: 0,
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ApiException) return e as ApiException<string>;
    throw e;
  }
  assert.fail('the request succeeded');
}

describe('@kubernetes/client-node against the Kubernetes test server', () => {
  let server: KubeApiServer;
  let config: KubeConfig;
  let leases: CoordinationV1Api;

  beforeEach(async () => {
    server = new KubeApiServer();
    await server.start();
    config = new KubeConfig();
    config.loadFromString(server.kubeconfig());
    leases = config.makeApiClient(CoordinationV1Api);
  });

  afterEach(() => server.stop());

  it('creates, reads and replaces a Lease, and rejects a replace from a stale resourceVersion with 409 Conflict', async () => {
    const created = await leases.createNamespacedLease({
      namespace: 'default',
      body: lease('partition-7', 'worker-a'),
    });
    assert.ok(created.metadata?.uid);
    const read = await leases.readNamespacedLease({ name: 'partition-7', namespace: 'default' });
    assert.equal(read.spec?.holderIdentity, 'worker-a');
    // renewTime is stored as the client wrote it: the lock compares it with the clock.
    assert.ok(
      !Number.isNaN(
        Date.parse(String(server.read('coordination.k8s.io', 'leases', 'default', 'partition-7')?.spec.renewTime)),
      ),
    );

    const renewed = await leases.replaceNamespacedLease({
      name: 'partition-7',
      namespace: 'default',
      body: { ...read, spec: { ...read.spec, renewTime: new Date() } },
    });
    assert.notEqual(renewed.metadata?.resourceVersion, read.metadata?.resourceVersion);

    // A second worker took its copy before the renewal: its takeover must fail, or two workers hold the lease.
    const stale = await failure(
      leases.replaceNamespacedLease({
        name: 'partition-7',
        namespace: 'default',
        body: { ...read, spec: { ...read.spec, holderIdentity: 'worker-b' } },
      }),
    );
    assert.equal(stale.code, 409);
    assert.equal(JSON.parse(stale.body).reason, 'Conflict');
    assert.equal(
      server.read('coordination.k8s.io', 'leases', 'default', 'partition-7')?.spec.holderIdentity,
      'worker-a',
    );
    assert.equal(server.requestCount({ verb: 'update', resource: 'leases' }), 2);
  });

  it('answers a duplicate create with 409 AlreadyExists and a missing Lease with 404 NotFound', async () => {
    await leases.createNamespacedLease({ namespace: 'default', body: lease('partition-1', 'worker-a') });
    const duplicate = await failure(
      leases.createNamespacedLease({ namespace: 'default', body: lease('partition-1', 'worker-b') }),
    );
    assert.equal(duplicate.code, 409);
    assert.equal(JSON.parse(duplicate.body).reason, 'AlreadyExists');
    const missing = await failure(leases.readNamespacedLease({ name: 'nope', namespace: 'default' }));
    assert.equal(missing.code, 404);
    assert.equal(JSON.parse(missing.body).message, 'leases.coordination.k8s.io "nope" not found');
  });

  it('watches Leases from a listed resourceVersion and sees each later change once, in order', async () => {
    await leases.createNamespacedLease({ namespace: 'default', body: lease('partition-0', 'worker-a') });
    const list = await leases.listNamespacedLease({ namespace: 'default' });
    const seen: string[] = [];
    const watch = new Watch(config);
    const controller = await watch.watch(
      '/apis/coordination.k8s.io/v1/namespaces/default/leases',
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (phase, object: V1Lease) => {
        if (phase !== 'BOOKMARK') seen.push(`${phase} ${object.metadata?.name} ${object.spec?.holderIdentity ?? ''}`);
      },
      () => undefined,
    );
    try {
      await leases.createNamespacedLease({ namespace: 'default', body: lease('partition-1', 'worker-b') });
      // client-node sends PATCH bodies as JSON patch by default.
      await leases.patchNamespacedLease({
        name: 'partition-0',
        namespace: 'default',
        body: [{ op: 'replace', path: '/spec/holderIdentity', value: 'worker-c' }],
      });
      await leases.deleteNamespacedLease({ name: 'partition-1', namespace: 'default' });
      await until(() => seen.length >= 3, 'the watch reports three changes');
      assert.deepEqual(seen, [
        'ADDED partition-1 worker-b',
        'MODIFIED partition-0 worker-c',
        'DELETED partition-1 worker-b',
      ]);
    } finally {
      controller.abort();
    }
    assert.equal(server.requestCount({ verb: 'watch', resource: 'leases' }), 1);
  });

  it('gets 401 with a token the server does not know', async () => {
    const wrong = new KubeConfig();
    wrong.loadFromString(server.kubeconfig().replace(server.tokens[0]!, 'not-the-token'));
    const denied = await failure(wrong.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: 'default' }));
    assert.equal(denied.code, 401);
  });
});
