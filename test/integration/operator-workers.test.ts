/**
 * The operator's whole loop, as far as one machine allows: the operator reconciles a Workflow on the Kubernetes API
 * test server; the test plays the kubelet and starts one `durable worker` process per desired replica with exactly
 * the environment of the generated pod template (its ConfigMap, its env, the downward API fields); the workers take
 * their partition Leases on the same API server, share a real Beanstalkd and one SQLite file, and run the example
 * app's patterns to completion.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import app from '../../examples/app.js';
import type { Account } from '../../examples/app.js';
import { loadConfig } from '../../src/config/config.js';
import { startHost, type Host } from '../../src/host/host.js';
import { entityId } from '../../src/index.js';
import { BeanstalkdConnection } from '../../src/backends/beanstalkd/beanstalkd-connection.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import { leaseApi, untilPartitionsShared } from '../fixtures/partition-holders.js';
import { startWorkerChild, type WorkerChild } from '../fixtures/worker-child.js';
import { until } from '../helpers/until.js';
import type { KubeApiServer } from '../kube-api-server/server.js';
import { withOperator } from '../kube/operator-fixture.js';

/** The environment the kubelet would give container `container` of pod `pod`: envFrom first, then env. */
function podEnv(server: KubeApiServer, container: V1Container, pod: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (name !== undefined) Object.assign(env, server.read('', 'configmaps', 'default', name)?.data);
  }
  const fields: Record<string, string> = { 'metadata.name': pod, 'metadata.namespace': 'default' };
  for (const variable of container.env ?? ([] as V1EnvVar[])) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    env[variable.name] = field !== undefined ? (fields[field] ?? '') : (variable.value ?? '');
  }
  return env;
}

describe('the operator with real workers', function () {
  this.timeout(240_000);
  requireBeanstalkd();
  const k8s = withOperator({ queueDepthIntervalMs: 100 });
  let beanstalkd: BeanstalkdServer | undefined;
  let dir: string | undefined;
  let workers: WorkerChild[] = [];
  let host: Host | undefined;

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.stop(5000)));
    workers = [];
    await host?.stop();
    await beanstalkd?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    [host, beanstalkd, dir] = [undefined, undefined, undefined];
  });

  it('reconciles a Workflow whose workers, started with its pod template, run the example app to completion', async () => {
    const { server, kubectl } = k8s;
    beanstalkd = await BeanstalkdServer.start();
    dir = mkdtempSync(join(tmpdir(), 'durable-operator-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, server.kubeconfig());
    const backends = {
      DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${beanstalkd.port}`,
      DURABLE_NAMESPACE: `shop-${randomUUID().slice(0, 8)}`,
      DURABLE_LOCK: 'kubernetes',
      DURABLE_PARTITIONS: '8',
      // The store: one SQLite file stands in for RethinkDB on this machine.
      DURABLE_SQLITE_PATH: join(dir, 'durable.db'),
      DURABLE_DURABILITY: 'normal',
    };
    const manifest = [
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: shop-backends }\ndata: ${JSON.stringify(backends)}\n`,
      'apiVersion: durable.dev/v1alpha1\nkind: Workflow\nmetadata: { name: shop }\nspec:\n' +
        '  image: registry.example.com/shop:1.0.0\n  app: examples/app.ts\n  replicas: 3\n' +
        '  backends: { configMapRef: { name: shop-backends } }\n' +
        '  env: [{ name: DURABLE_LEASE_DURATION_MS, value: "3000" }, { name: DURABLE_LEASE_RENEW_MS, value: "1000" }]\n',
    ].join('---\n');
    await kubectl.ok('apply', '-f', kubectl.file('shop.yaml', manifest));
    await until(
      () => server.read('apps', 'deployments', 'default', 'shop-workflow') !== undefined,
      'a Deployment',
      10_000,
    );

    // The kubelet's part: one process per replica, with the pod template's command line and environment.
    const deployment = server.read('apps', 'deployments', 'default', 'shop-workflow');
    const container = deployment?.spec.template.spec.containers[0] as V1Container;
    assert.equal(container.args?.[0], 'worker');
    const replicas = deployment?.spec.replicas as number;
    assert.equal(replicas, 3);
    workers = Array.from({ length: replicas }, (_, i) =>
      startWorkerChild(
        {
          ...podEnv(server, container, `shop-workflow-${i}`),
          // Each pod has its own network namespace; three processes on one machine need their own ports.
          DURABLE_OPS_HOST: '127.0.0.1',
          DURABLE_OPS_PORT: '0',
          // The pod's service account, here: a kubeconfig for the test server.
          KUBECONFIG: kubeconfig,
        },
        container.args?.[1],
      ),
    );
    await Promise.all(workers.map((w) => w.waitFor('worker.ops_listening', 60_000)));
    await untilPartitionsShared(leaseApi(server), 8, replicas);
    const members = JSON.parse(await kubectl.ok('get', 'leases', '-l', 'durable.dev/pool=workflow.shop', '-o', 'json'));
    assert.equal(members.items.length, replicas, "each worker's member Lease names its pool");

    // A client of the same app (as the HTTP API would be) runs the patterns.
    host = await startHost({ app, config: loadConfig(backends), runWorker: false });
    const { client } = host;
    for (const key of ['a', 'b']) await client.entity<Account>('account', key).deposit(100);
    const started = [
      await client.start('helloSequence', ['Tokyo', 'Paris']),
      await client.start('wordCount', ['a b', 'c d e', '']),
      await client.start('approval', { requestId: 'r1', amount: 5, timeoutMs: 600_000 }),
      await client.start('transfer', { from: 'a', to: 'b', amount: 30 }),
    ];
    await client.raiseEvent(started[2] as string, 'approval', { approved: true, by: 'ann' });
    const outputs = await Promise.all(
      started.map(async (id) => {
        const status = await client.waitForCompletion(id, { timeoutMs: 60_000 });
        assert.equal(status.status, 'Completed', `${id}: ${JSON.stringify(status.error)}`);
        return status.output;
      }),
    );
    assert.deepEqual(outputs, [
      ['Hello Tokyo!', 'Hello Paris!'],
      { total: 5, perDocument: [2, 3, 0] },
      { status: 'approved', requestId: 'r1', by: 'ann' },
      'ok',
    ]);
    assert.equal((await client.readEntityState<number>(entityId('account', 'b')))?.state, 130);

    // The workers drain on SIGTERM, as the kubelet stops a pod.
    const exits = await Promise.all(workers.map((w) => w.stop(15_000)));
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0, 0],
    );
  });

  it("shows the messages waiting in the pool's tubes in the Queue column", async () => {
    const { server, kubectl } = k8s;
    beanstalkd = await BeanstalkdServer.start();
    const backends = { DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${beanstalkd.port}`, DURABLE_NAMESPACE: 'shop' };
    const manifest = [
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: shop-backends }\ndata: ${JSON.stringify(backends)}\n`,
      'apiVersion: durable.dev/v1alpha1\nkind: Workflow\nmetadata: { name: shop }\nspec:\n' +
        '  { image: "shop:1", app: app.ts, backends: { configMapRef: { name: shop-backends } } }\n',
    ].join('---\n');
    await kubectl.ok('apply', '-f', kubectl.file('shop.yaml', manifest));
    const producer = new BeanstalkdConnection({ host: '127.0.0.1', port: beanstalkd.port });
    try {
      const put = async (tube: string, count: number): Promise<void> => {
        await producer.command(`use ${tube}`);
        for (let i = 0; i < count; i++) await producer.command('put 0 0 60 1', Buffer.from('x'));
      };
      await put('shop.activities', 5);
      await put('shop.orchestrations', 3);
      await put('other.activities', 4); // another app's tube: not this pool's
      const queue = async (): Promise<string> => (await kubectl.ok('get', 'workflow', 'shop')).split('\n')[1] ?? '';
      await until(async () => /^shop\s+\S+\s+8\s/.test(await queue()), 'Queue shows 8', 10_000);
      await put('shop.activities', 2);
      await until(async () => /^shop\s+\S+\s+10\s/.test(await queue()), 'Queue shows 10', 10_000);
      assert.equal(server.read('durable.dev', 'workflows', 'default', 'shop')?.status.queueDepth, 10);
    } finally {
      producer.close();
    }
  });
});
