/**
 * The store's server goes away under load while two `durable worker` processes run the example patterns on
 * Beanstalkd and RethinkDB (store and lock): `kill -9` and a restart on its data directory, or a SIGSTOP stall longer
 * than the query timeout. The workers must ride it out (time out, back off, reconnect) without crashing, and every
 * instance the client was told about must complete with the right output: nothing acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import app from '../../examples/app.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import { RethinkdbServer, requireRethinkdb } from '../fixtures/rethinkdb-server.js';
import type { WorkerChild } from '../fixtures/worker-child.js';
import { startWorkerChild } from '../fixtures/worker-child.js';
import { assertAllComplete, startChains } from '../helpers/outcomes.js';
import { until } from '../helpers/until.js';

/** How the store's server goes away and comes back. */
const OUTAGES = [
  {
    name: 'killed with -9 under load, then restarted on its data',
    outage: async (server: RethinkdbServer): Promise<void> => {
      await server.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 3000)); // queries fail and back off meanwhile
      await server.restart();
    },
  },
  {
    // A partition-like stall: the connections stay open, nothing answers, for longer than the query timeout.
    name: 'stopped with SIGSTOP for longer than the query timeout, then continued',
    outage: async (server: RethinkdbServer): Promise<void> => {
      server.pause();
      await new Promise((resolve) => setTimeout(resolve, 6000));
      server.resume();
    },
  },
];

for (const { name, outage } of OUTAGES) {
  describe(`RethinkDB ${name}`, function () {
    this.timeout(180_000);
    requireBeanstalkd();
    requireRethinkdb();
    let beanstalkd: BeanstalkdServer | undefined;
    let rethinkdb: RethinkdbServer | undefined;
    let workers: WorkerChild[] = [];
    let host: Host | undefined;
    let dir: string | undefined;

    afterEach(async () => {
      await Promise.all(workers.map((w) => w.stop(5000)));
      workers = [];
      await host?.stop().catch(() => undefined);
      await beanstalkd?.stop();
      await rethinkdb?.stop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it('completes every started instance once the server is back, with no worker lost on the way', async () => {
      beanstalkd = await BeanstalkdServer.start();
      rethinkdb = await RethinkdbServer.start();
      dir = mkdtempSync(join(tmpdir(), 'durable-rethinkdb-restart-'));
      const env = {
        DURABLE_SQLITE_PATH: join(dir, 'unused.db'),
        DURABLE_STORE_URL: `rethinkdb://127.0.0.1:${rethinkdb.driverPort}/restart_${randomUUID().slice(0, 8)}`,
        DURABLE_LOCK: 'rethinkdb',
        DURABLE_RETHINKDB_TIMEOUT_MS: '2000',
        DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${beanstalkd.port}`,
        DURABLE_NAMESPACE: `restart-${randomUUID().slice(0, 8)}`,
        DURABLE_TURN_TIMEOUT_MS: '3000',
      };
      // The client's host creates the schema first; the workers find it there.
      host = await startHost({ app, config: loadConfig(env), runWorker: false });
      const { client } = host;
      workers = [startWorkerChild(env), startWorkerChild(env)];
      await Promise.all(workers.map((w) => w.waitFor('worker.ops_listening')));

      const expected = new Map<string, unknown>();
      await startChains(client, 150, expected);
      for (let i = 0; i < 20; i++) {
        const documents = ['a b', 'c d e', `${'w '.repeat(i)}`.trim()];
        const perDocument = documents.map((d) => (d === '' ? 0 : d.split(' ').length));
        expected.set(await client.start('wordCount', documents), {
          total: perDocument.reduce((a, b) => a + b, 0),
          perDocument,
        });
      }
      const ids = [...expected.keys()];
      const completed = async (): Promise<number> =>
        (await client.list({ status: 'Completed', limit: 1000 })).items.length;
      await until(async () => (await completed()) >= 10, 'some instances completed', 60_000);

      const doneAtKill = await completed();
      assert.ok(doneAtKill < ids.length, `the kill lands while work is in flight (${doneAtKill} done)`);
      await outage(rethinkdb);

      await assertAllComplete(client, expected);
      assert.deepEqual(
        workers.map((w) => w.running),
        [true, true],
        'no worker died of the outage',
      );
      const failedBatches = workers.flatMap((w) => w.lines).filter((l) => l.event === 'worker.batch_failed').length;
      assert.ok(failedBatches > 0, 'the workers felt the outage (and backed off)');
      console.log(`      outage began with ${doneAtKill} of ${ids.length} done; ${failedBatches} batches backed off`);
    });
  });
}
