/**
 * Runs the store, store batch and lock contract suites against the RethinkDB adapters on a real server: one server
 * spawned for the file (or the user's, from `RETHINKDB_URL`), a fresh database per run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RethinkdbLock } from '../../src/backends/rethinkdb/rethinkdb-lock.js';
import { RethinkdbStore } from '../../src/backends/rethinkdb/rethinkdb-store.js';
import { RethinkdbPool } from '../../src/backends/rethinkdb/rethinkdb-connection.js';
import { events } from '../../src/engine/history.js';
import type { RethinkdbAddress } from '../fixtures/rethinkdb-server.js';
import { RethinkdbServer, externalRethinkdb, requireRethinkdb } from '../fixtures/rethinkdb-server.js';
import { lockContract } from './lock.contract.js';
import { storeBatchContract } from './store-batch.contract.js';
import { storeContract } from './store.contract.js';

describe('RethinkDB adapters on a real server', function () {
  this.timeout(60_000);
  requireRethinkdb();

  let server: RethinkdbServer | undefined;
  let address: RethinkdbAddress;
  // Unique per run, so the suites also run on a user's server next to other data; dropped at the end.
  const db = `durable_test_${randomUUID().replace(/-/g, '')}`;

  before(async function () {
    const external = externalRethinkdb();
    if (external !== undefined) {
      address = external;
      return;
    }
    server = await RethinkdbServer.start();
    address = server.address;
  });

  after(async () => {
    if (server !== undefined) {
      await server.stop();
      return;
    }
    if (address === undefined) return;
    const pool = await RethinkdbPool.open({ ...address, db });
    await pool.run((r) => r.dbDrop(db)).catch(() => undefined);
    await pool.close();
  });

  const options = (): { host: string; port: number; db: string; timeoutMs: number } => ({
    ...address,
    db,
    timeoutMs: 10_000,
  });

  storeContract('RethinkdbStore', async () => ({ store: await RethinkdbStore.open(options()) }));
  storeBatchContract('RethinkdbStore', async () => ({ store: await RethinkdbStore.open(options()) }));
  lockContract('RethinkdbLock', async (clock) => ({ lock: await RethinkdbLock.open({ ...options(), clock }) }));

  describe('RethinkdbStore (beyond the contract)', () => {
    it('keeps instance ids longer than a RethinkDB primary key, with their history, and lists them', async () => {
      const store = await RethinkdbStore.open(options());
      try {
        const name = `long-${randomUUID()}`;
        // 200 characters, the longest id the client accepts; they differ only in the last one.
        const ids = ['a', 'b'].map((last) => `${name}-${'x'.repeat(200)}`.slice(0, 199) + last);
        for (const [i, instanceId] of ids.entries()) {
          const record = {
            instanceId,
            version: 1,
            name,
            generation: 0,
            status: 'Running' as const,
            createdAt: i,
            updatedAt: i,
            historyLength: 2,
            tail: { instanceId, generation: 0, fromIndex: 1, events: [events.taskCompleted(1, 'done')] },
            outbox: [],
          };
          assert.deepEqual(await store.compareAndSet(record, 0), { ok: true });
          const started = events.executionStarted({ name, input: null, generation: 0 });
          await store.putHistoryChunk({ instanceId, generation: 0, fromIndex: 0, events: [started] });
          assert.deepEqual(await store.get(instanceId), record);
          assert.deepEqual(await store.readHistory(record), [started, events.taskCompleted(1, 'done')]);
        }
        assert.deepEqual(
          (await store.list({ name })).items.map((r) => r.instanceId),
          [...ids].reverse(),
        );
      } finally {
        await store.close();
      }
    });

    it('rejects a query on a stopped server with an error instead of hanging', async function () {
      if (server === undefined) this.skip(); // never stop a user's server
      const own = await RethinkdbServer.start({ name: 'durable_test_stopped' });
      const store = await RethinkdbStore.open({ ...own.address, db, timeoutMs: 1000 });
      try {
        assert.equal(await store.get('nobody'), undefined);
        await own.kill('SIGKILL');
        await assert.rejects(store.get('nobody'), /RethinkDB/);
      } finally {
        await store.close();
        await own.stop();
      }
    });

    it('times out a query on a paused server, then answers again once it resumes', async function () {
      if (server === undefined) this.skip();
      const own = await RethinkdbServer.start({ name: 'durable_test_paused' });
      const store = await RethinkdbStore.open({ ...own.address, db, timeoutMs: 500 });
      try {
        own.pause();
        await assert.rejects(store.get('nobody'), /did not answer within 500 ms|RethinkDB/);
        own.resume();
        let answered = false;
        for (let i = 0; i < 20 && !answered; i++) {
          answered = await store.get('nobody').then(
            (value) => value === undefined,
            () => false,
          );
        }
        assert.ok(answered, 'the store reconnected after the server resumed');
      } finally {
        await store.close();
        await own.stop();
      }
    });
  });
});
