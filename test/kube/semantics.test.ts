/**
 * Behaviour of the test server that the lock and the operator rely on, checked over raw HTTPS where no client
 * library shows it: watch resumption and 410 Gone, bookmarks, no-op writes, generation, garbage collection,
 * selectors, discovery of new CRDs, fault injection and the request counts.
 */
import assert from 'node:assert/strict';
import { KubeApiServer, type KubeApiServerOptions } from '../kube-api-server/server.js';
import { until } from '../helpers/until.js';
import { call, openWatch } from './https.js';

const CM = '/api/v1/namespaces/default/configmaps';
const DEPLOY = '/apis/apps/v1/namespaces/default/deployments';

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'worker' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'w' } },
    template: { metadata: { labels: { app: 'w' } }, spec: { containers: [{ name: 'w', image: 'w:1' }] } },
  },
};

describe('Kubernetes test server semantics', () => {
  let server: KubeApiServer;
  const start = async (options: KubeApiServerOptions = {}): Promise<void> => {
    server = new KubeApiServer(options);
    await server.start();
  };

  afterEach(() => server.stop());

  it('ends a watch from a compacted resourceVersion with an ERROR event carrying 410 Expired', async () => {
    await start({ historyLimit: 3 });
    const first = await call(server, 'POST', CM, { metadata: { name: 'c0' } });
    for (let i = 1; i <= 5; i++) await call(server, 'POST', CM, { metadata: { name: `c${i}` } });
    const watch = openWatch(server, `${CM}?watch=1&resourceVersion=${first.body.metadata.resourceVersion}`);
    await watch.ended;
    assert.equal(watch.events.length, 1);
    assert.equal(watch.events[0].type, 'ERROR');
    assert.equal(watch.events[0].object.code, 410);
    assert.equal(watch.events[0].object.reason, 'Expired');
  });

  it('resumes a watch from a recent resourceVersion with exactly the events after it', async () => {
    await start();
    const a = await call(server, 'POST', CM, { metadata: { name: 'a' } });
    await call(server, 'POST', CM, { metadata: { name: 'b' } });
    await call(server, 'DELETE', `${CM}/a`);
    const watch = openWatch(server, `${CM}?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`);
    await until(() => watch.events.length >= 2, 'the two later events arrive');
    watch.stop();
    assert.deepEqual(
      watch.events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED b', 'DELETED a'],
    );
  });

  it('sends bookmarks carrying the current resourceVersion to watches that allow them', async () => {
    await start({ bookmarkIntervalMs: 20 });
    await call(server, 'POST', CM, { metadata: { name: 'a' } });
    const watch = openWatch(
      server,
      `${CM}?watch=1&allowWatchBookmarks=true&resourceVersion=${server.resourceVersion()}`,
    );
    await until(() => watch.events.some((e) => e.type === 'BOOKMARK'), 'a bookmark arrives');
    watch.stop();
    const bookmark = watch.events.find((e) => e.type === 'BOOKMARK');
    assert.equal(bookmark.object.metadata.resourceVersion, String(server.resourceVersion()));
    assert.equal(bookmark.object.kind, 'ConfigMap');
  });

  it('stores nothing for a write that changes nothing, and bumps generation only for spec changes', async () => {
    await start();
    const created = await call(server, 'POST', DEPLOY, deployment);
    assert.equal(created.status, 201);
    const same = await call(server, 'PUT', `${DEPLOY}/worker`, created.body);
    assert.equal(same.body.metadata.resourceVersion, created.body.metadata.resourceVersion);

    const status = await call(server, 'PUT', `${DEPLOY}/worker/status`, {
      ...same.body,
      status: { replicas: 1, readyReplicas: 1 },
    });
    assert.equal(status.body.metadata.generation, 1);
    assert.equal(status.body.status.readyReplicas, 1);
    const ignored = await call(server, 'PUT', `${DEPLOY}/worker`, { ...status.body, status: { readyReplicas: 9 } });
    assert.equal(ignored.body.status.readyReplicas, 1, 'the main resource does not write status');

    const labelled = await call(
      server,
      'PATCH',
      `${DEPLOY}/worker`,
      { metadata: { labels: { tier: 'x' } } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    assert.equal(labelled.body.metadata.generation, 1);
    const scaled = await call(
      server,
      'PATCH',
      `${DEPLOY}/worker`,
      { spec: { replicas: 3 } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    assert.equal(scaled.body.metadata.generation, 2);
    const stale = await call(server, 'PUT', `${DEPLOY}/worker`, created.body);
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
  });

  it('deletes the dependents of a deleted owner in the background, and orphans them when asked', async () => {
    await start();
    const owner = await call(server, 'POST', DEPLOY, deployment);
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker', uid: owner.body.metadata.uid };
    await call(server, 'POST', CM, { metadata: { name: 'owned', ownerReferences: [ref] } });
    await call(server, 'POST', CM, { metadata: { name: 'free' } });
    await call(server, 'DELETE', `${DEPLOY}/worker`);
    await until(() => server.read('', 'configmaps', 'default', 'owned') === undefined, 'the dependent is collected');
    assert.ok(server.read('', 'configmaps', 'default', 'free'));

    const second = await call(server, 'POST', DEPLOY, deployment);
    await call(server, 'POST', CM, {
      metadata: { name: 'kept', ownerReferences: [{ ...ref, uid: second.body.metadata.uid }] },
    });
    await call(server, 'DELETE', `${DEPLOY}/worker?propagationPolicy=Orphan`);
    assert.equal(server.collectGarbage(), 0);
    assert.equal(server.read('', 'configmaps', 'default', 'kept')?.metadata.ownerReferences, undefined);
  });

  it('filters lists by label and field selectors', async () => {
    await start();
    await call(server, 'POST', CM, { metadata: { name: 'a', labels: { app: 'durable', tier: 'web' } } });
    await call(server, 'POST', CM, { metadata: { name: 'b', labels: { app: 'durable', tier: 'worker' } } });
    await call(server, 'POST', CM, { metadata: { name: 'c', labels: { app: 'other' } } });
    const names = async (query: string): Promise<string[]> =>
      (await call(server, 'GET', `${CM}?${query}`)).body.items.map(
        (i: { metadata: { name: string } }) => i.metadata.name,
      );
    assert.deepEqual(await names('labelSelector=app%3Ddurable'), ['a', 'b']);
    assert.deepEqual(await names('labelSelector=app%3Ddurable,tier%20notin%20(web)'), ['b']);
    assert.deepEqual(await names('labelSelector=!tier'), ['c']);
    assert.deepEqual(await names('fieldSelector=metadata.name%3Dc'), ['c']);
    assert.equal((await call(server, 'GET', `${CM}?fieldSelector=spec.x%3D1`)).status, 400);
  });

  it('reports an object relabelled out of a watch selector as DELETED and back into it as ADDED', async () => {
    await start();
    await call(server, 'POST', CM, { metadata: { name: 'a', labels: { role: 'leader' } } });
    const watch = openWatch(
      server,
      `${CM}?watch=1&labelSelector=role%3Dleader&resourceVersion=${server.resourceVersion()}`,
    );
    const relabel = (role: string): Promise<unknown> =>
      call(
        server,
        'PATCH',
        `${CM}/a`,
        { metadata: { labels: { role } } },
        { 'Content-Type': 'application/merge-patch+json' },
      );
    await relabel('follower');
    await relabel('leader');
    await until(() => watch.events.length >= 2, 'two events arrive');
    watch.stop();
    assert.deepEqual(
      watch.events.map((e) => `${e.type} ${e.object.metadata.labels.role}`),
      ['DELETED follower', 'ADDED leader'],
    );
  });

  it('serves a new CRD in discovery and as a Table with its printer columns', async () => {
    await start();
    const before = await call(server, 'GET', '/apis');
    assert.ok(!before.body.groups.some((g: { name: string }) => g.name === 'durable.dev'));
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'things.durable.dev' },
      spec: {
        group: 'durable.dev',
        scope: 'Namespaced',
        names: { plural: 'things', kind: 'Thing' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
              },
            },
          },
        ],
      },
    };
    assert.equal(
      (await call(server, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status,
      201,
    );
    const after = await call(server, 'GET', '/apis/durable.dev/v1');
    assert.equal(after.body.resources[0].kind, 'Thing');
    await call(server, 'POST', '/apis/durable.dev/v1/namespaces/default/things', {
      apiVersion: 'durable.dev/v1',
      kind: 'Thing',
      metadata: { name: 't' },
      spec: { size: 4 },
    });
    const table = await call(server, 'GET', '/apis/durable.dev/v1/namespaces/default/things', undefined, {
      Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    assert.equal(table.body.kind, 'Table');
    assert.deepEqual(
      table.body.columnDefinitions.map((c: { name: string }) => c.name),
      ['Name', 'Size'],
    );
    assert.deepEqual(table.body.rows[0].cells, ['t', 4]);
  });

  it('injects 429s with Retry-After, 500s and latency, and drops watches, counting every request', async () => {
    await start();
    server.injectFault({ verb: 'update', resource: 'leases', status: 429, retryAfterSeconds: 2, times: 1 });
    server.injectFault({ verb: 'list', status: 500, times: 1 });
    const lease = { metadata: { name: 'l' }, spec: { holderIdentity: 'a' } };
    const created = await call(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', lease);
    const throttled = await call(
      server,
      'PUT',
      '/apis/coordination.k8s.io/v1/namespaces/default/leases/l',
      created.body,
    );
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['retry-after'], '2');
    assert.equal(throttled.body.details.retryAfterSeconds, 2);
    assert.equal(
      (await call(server, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/l', created.body)).status,
      200,
    );
    assert.equal((await call(server, 'GET', CM)).status, 500);
    assert.equal((await call(server, 'GET', CM)).status, 200);

    server.injectFault({ verb: 'get', resource: 'configmaps', latencyMs: 100 });
    const startedAt = Date.now();
    await call(server, 'GET', `${CM}/missing`);
    assert.ok(Date.now() - startedAt >= 100);

    const watch = openWatch(server, `${CM}?watch=1`);
    await until(() => server.requestCount({ verb: 'watch' }) === 1, 'the watch is open');
    assert.equal(server.dropWatches(), 1);
    await watch.ended;

    assert.deepEqual(server.requestCounts(), {
      'create leases': 1,
      'update leases': 2,
      'list configmaps': 2,
      'get configmaps': 1,
      'watch configmaps': 1,
    });
  });
});
