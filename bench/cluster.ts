/**
 * The cluster mode of the benchmarks (`BENCH_BACKEND=cluster`): a spawned Beanstalkd (the queue) and a spawned
 * RethinkDB (store and lock), BENCH_WORKERS (default 2) `durable worker bench/hello-app.ts` processes, and a client
 * host in the benchmark's process that starts the instances and reads their outcomes but runs no worker. Everything
 * on this machine, with the servers and workers started the way test/integration/worker-cluster.test.ts starts them.
 *
 * Round trips are counted by the RethinkDB server itself: `queries_total` of its `rethinkdb.stats` entry counts every
 * query any client ran (store and lock, workers and client alike), so nothing in the adapters needs instrumenting.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RethinkdbPool } from '../src/backends/rethinkdb/rethinkdb-connection.js';
import { loadConfig } from '../src/config/config.js';
import type { Host } from '../src/host/host.js';
import { startHost } from '../src/host/host.js';
import { BeanstalkdServer } from '../test/fixtures/beanstalkd-server.js';
import { RethinkdbServer } from '../test/fixtures/rethinkdb-server.js';
import type { WorkerChild } from '../test/fixtures/worker-child.js';
import { metricSample, startWorkerChild } from '../test/fixtures/worker-child.js';
import { KubeApiServer } from '../test/kube-api-server/server.js';
import { leaseApi, untilPartitionsShared } from '../test/fixtures/partition-holders.js';
import app from './hello-app.js';

export interface Cluster {
  readonly host: Host;
  /** Queries the RethinkDB server has answered so far (this call's own query included). */
  queries(): Promise<number>;
  /** Lease writes (create, update, patch) the Kubernetes API test server took so far (BENCH_LOCK=kubernetes). */
  leaseWrites(): number | undefined;
  /** Summed over the workers' /metrics: orchestration and entity messages processed, and those bounced as busy. */
  deliveries(): Promise<{ processed: number; busy: number }>;
  /** Documents read and written so far, per table of the benchmark's database. */
  documents(): Promise<Record<string, { read: number; written: number }>>;
  stop(): Promise<void>;
}

export async function startCluster(durability: string): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'durable-bench-cluster-'));
  const beanstalkd = await BeanstalkdServer.start();
  const rethinkdb = await RethinkdbServer.start({ name: 'bench' });
  const db = `bench_${randomUUID().slice(0, 8)}`;
  const lock = process.env.BENCH_LOCK ?? 'rethinkdb';
  // BENCH_LOCK=kubernetes: partition Leases on the Kubernetes API test server, which counts the Lease writes.
  const kube = lock === 'kubernetes' ? new KubeApiServer() : undefined;
  await kube?.start();
  const kubeEnv: Record<string, string> = {};
  if (kube !== undefined) {
    writeFileSync(join(dir, 'kubeconfig'), kube.kubeconfig());
    Object.assign(kubeEnv, {
      KUBECONFIG: join(dir, 'kubeconfig'),
      DURABLE_PARTITIONS: process.env.BENCH_PARTITIONS ?? '64',
      DURABLE_KUBERNETES_NAMESPACE: 'default',
    });
  }
  const env = {
    ...kubeEnv,
    DURABLE_SQLITE_PATH: join(dir, 'unused.db'),
    DURABLE_STORE_URL: `rethinkdb://127.0.0.1:${rethinkdb.driverPort}/${db}`,
    DURABLE_LOCK: lock,
    DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${beanstalkd.port}`,
    DURABLE_NAMESPACE: `bench-${randomUUID().slice(0, 8)}`,
    DURABLE_DURABILITY: durability,
    DURABLE_ACTIVITY_CONCURRENCY: process.env.BENCH_ACTIVITY_CONCURRENCY ?? '256',
    DURABLE_ORCHESTRATION_CONCURRENCY: process.env.BENCH_ORCHESTRATION_CONCURRENCY ?? '64',
    DURABLE_LOG_LEVEL: 'warn',
  };
  const workers: WorkerChild[] = Array.from({ length: Number(process.env.BENCH_WORKERS ?? 2) }, (_, i) =>
    startWorkerChild({ ...env, DURABLE_LOG_LEVEL: 'info', POD_NAME: `bench-${i}` }, 'bench/hello-app.ts'),
  );
  const ops = await Promise.all(
    workers.map(async (w) => String((await w.waitFor('worker.ops_listening', 60_000)).address)),
  );
  if (kube !== undefined) {
    // Until every partition is held, and shared by every worker (they rebalance as they start), the run would
    // measure the start-up instead.
    await untilPartitionsShared(leaseApi(kube), Number(kubeEnv.DURABLE_PARTITIONS), workers.length, 60_000);
  }
  const host = await startHost({ app, config: loadConfig(env), runWorker: false });
  const stats = await RethinkdbPool.open({ host: '127.0.0.1', port: rethinkdb.driverPort, db });
  return {
    host,
    async queries() {
      const rows = await stats.run<{ query_engine: { queries_total: number } }[]>((r) =>
        r
          .db('rethinkdb')
          .table('stats')
          .filter((row: unknown) => r.expr(row)('id').nth(0).eq('server')),
      );
      return rows.reduce((sum, row) => sum + row.query_engine.queries_total, 0);
    },
    leaseWrites() {
      if (kube === undefined) return undefined;
      return ['create', 'update', 'patch'].reduce((n, verb) => n + kube.requestCount({ verb, resource: 'leases' }), 0);
    },
    async deliveries() {
      let processed = 0;
      let busy = 0;
      for (const address of ops) {
        const text = await (await fetch(`${address}/metrics`)).text();
        processed += metricSample(text, 'durable_messages_total{kind="orchestration"}');
        processed += metricSample(text, 'durable_messages_total{kind="entity"}');
        busy += metricSample(text, 'durable_lock_busy_messages_total');
      }
      return { processed, busy };
    },
    async documents() {
      const rows = await stats.run<
        {
          id: string[];
          table?: string;
          storage_engine: { disk: unknown };
          query_engine: { read_docs_total: number; written_docs_total: number };
        }[]
      >((r) =>
        r
          .db('rethinkdb')
          .table('stats')
          .filter((row: unknown) => r.expr(row)('id').nth(0).eq('table_server').and(r.expr(row)('db').eq(db))),
      );
      const out: Record<string, { read: number; written: number }> = {};
      for (const row of rows) {
        const t = (out[row.table ?? '?'] ??= { read: 0, written: 0 });
        t.read += row.query_engine.read_docs_total;
        t.written += row.query_engine.written_docs_total;
      }
      return out;
    },
    async stop() {
      await host.stop();
      await stats.close();
      await Promise.all(workers.map((w) => w.stop(5000)));
      await beanstalkd.stop();
      await rethinkdb.stop();
      await kube?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
