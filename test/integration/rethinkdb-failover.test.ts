/**
 * Failover: three RethinkDB servers on loopback, Durable's tables with three replicas, two `durable worker`
 * processes running the example patterns on Beanstalkd and RethinkDB (store and lock). The server that is primary
 * for the records table is SIGKILLed mid-run. Commits must resume once RethinkDB has elected a new primary, and every
 * instance the client was told about must complete with the right output.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { RethinkdbPool } from '../../src/backends/rethinkdb/rethinkdb-connection.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import app from '../../examples/app.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import { RethinkdbCluster, requireRethinkdb } from '../fixtures/rethinkdb-server.js';
import type { WorkerChild } from '../fixtures/worker-child.js';
import { startWorkerChild } from '../fixtures/worker-child.js';
import { assertAllComplete, startChains } from '../helpers/outcomes.js';
import { until } from '../helpers/until.js';

describe('RethinkDB failover: the primary of three replicas is SIGKILLed mid-run', function () {
  this.timeout(240_000);
  requireBeanstalkd();
  requireRethinkdb();
  let beanstalkd: BeanstalkdServer | undefined;
  let cluster: RethinkdbCluster | undefined;
  let workers: WorkerChild[] = [];
  const hosts: Host[] = [];
  let dir: string | undefined;

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.stop(5000)));
    workers = [];
    await Promise.all(hosts.splice(0).map((h) => h.stop().catch(() => undefined)));
    await beanstalkd?.stop();
    await cluster?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('resumes commits on the new primary and completes every started instance', async () => {
    beanstalkd = await BeanstalkdServer.start();
    cluster = await RethinkdbCluster.start(3);
    dir = mkdtempSync(join(tmpdir(), 'durable-rethinkdb-failover-'));
    const db = `failover_${randomUUID().slice(0, 8)}`;
    const settings = (port: number): Record<string, string> => ({
      DURABLE_SQLITE_PATH: join(dir as string, 'unused.db'),
      DURABLE_STORE_URL: `rethinkdb://127.0.0.1:${port}/${db}`,
      DURABLE_LOCK: 'rethinkdb',
      DURABLE_RETHINKDB_REPLICAS: '3',
      DURABLE_RETHINKDB_TIMEOUT_MS: '2000',
      DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${(beanstalkd as BeanstalkdServer).port}`,
      DURABLE_NAMESPACE: `failover-${randomUUID().slice(0, 8)}`,
      DURABLE_TURN_TIMEOUT_MS: '3000',
    });
    const [first] = cluster.servers;
    assert.ok(first);
    // Create the schema (three replicas, waited on until every replica is ready), then find the victim.
    hosts.push(await startHost({ app, config: loadConfig(settings(first.driverPort)), runWorker: false }));
    const pool = await RethinkdbPool.open({ ...first.address, db });
    const primary = await pool.run<string>((_r, database) =>
      database.table('records').config()('shards')(0)('primary_replica'),
    );
    await pool.close();
    const victim = cluster.servers.find((s) => s.name === primary);
    const survivor = cluster.servers.find((s) => s.name !== primary);
    assert.ok(victim && survivor, `the primary ${primary} is one of the servers`);

    // Workers and the client talk to a server that survives; the victim holds the records table's primary.
    const env = settings(survivor.driverPort);
    hosts.push(await startHost({ app, config: loadConfig(env), runWorker: false }));
    const { client } = hosts[1] as Host;
    workers = [startWorkerChild(env), startWorkerChild(env)];
    await Promise.all(workers.map((w) => w.waitFor('worker.ops_listening')));

    const expected = new Map<string, unknown>();
    await startChains(client, 150, expected);
    const ids = [...expected.keys()];
    const completed = async (): Promise<number> => {
      try {
        return (await client.list({ status: 'Completed', limit: 1000 })).items.length;
      } catch {
        return -1; // no primary right now
      }
    };
    await until(async () => (await completed()) >= 10, 'some instances completed', 60_000);
    const doneAtKill = await completed();
    assert.ok(doneAtKill < ids.length, `the kill lands while work is in flight (${doneAtKill} done)`);

    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await until(async () => (await completed()) > doneAtKill, 'commits resumed', 120_000);
    const resumedMs = Date.now() - killedAt;

    await assertAllComplete(client, expected);
    assert.deepEqual(
      workers.map((w) => w.running),
      [true, true],
    );
    console.log(
      `      killed the primary with ${doneAtKill} of ${ids.length} done; commits resumed after ${resumedMs} ms`,
    );
  });
});
