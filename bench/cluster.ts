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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RethinkdbPool } from '../src/backends/rethinkdb/rethinkdb-connection.js';
import { loadConfig } from '../src/config/config.js';
import type { Host } from '../src/host/host.js';
import { startHost } from '../src/host/host.js';
import { BeanstalkdServer } from '../test/fixtures/beanstalkd-server.js';
import { RethinkdbServer } from '../test/fixtures/rethinkdb-server.js';
import type { WorkerChild } from '../test/fixtures/worker-child.js';
import { startWorkerChild } from '../test/fixtures/worker-child.js';
import app from './hello-app.js';

export interface Cluster {
  readonly host: Host;
  /** Queries the RethinkDB server has answered so far (this call's own query included). */
  queries(): Promise<number>;
  /** Documents read and written so far, per table of the benchmark's database. */
  documents(): Promise<Record<string, { read: number; written: number }>>;
  stop(): Promise<void>;
}

export async function startCluster(durability: string): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'durable-bench-cluster-'));
  const beanstalkd = await BeanstalkdServer.start();
  const rethinkdb = await RethinkdbServer.start({ name: 'bench' });
  const db = `bench_${randomUUID().slice(0, 8)}`;
  const env = {
    DURABLE_SQLITE_PATH: join(dir, 'unused.db'),
    DURABLE_STORE_URL: `rethinkdb://127.0.0.1:${rethinkdb.driverPort}/${db}`,
    DURABLE_LOCK: process.env.BENCH_LOCK ?? 'rethinkdb',
    DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${beanstalkd.port}`,
    DURABLE_NAMESPACE: `bench-${randomUUID().slice(0, 8)}`,
    DURABLE_DURABILITY: durability,
    DURABLE_ACTIVITY_CONCURRENCY: process.env.BENCH_ACTIVITY_CONCURRENCY ?? '256',
    DURABLE_ORCHESTRATION_CONCURRENCY: process.env.BENCH_ORCHESTRATION_CONCURRENCY ?? '64',
    DURABLE_LOG_LEVEL: 'warn',
  };
  const workers: WorkerChild[] = Array.from({ length: Number(process.env.BENCH_WORKERS ?? 2) }, () =>
    startWorkerChild({ ...env, DURABLE_LOG_LEVEL: 'info' }, 'bench/hello-app.ts'),
  );
  await Promise.all(workers.map((w) => w.waitFor('worker.ops_listening', 60_000)));
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
