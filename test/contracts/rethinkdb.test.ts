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
import { SystemClock } from '../../src/backends/clock.js';
import { loadConfig } from '../../src/config/config.js';
import { openBackends } from '../../src/host/backends.js';
import { execFileSync } from 'node:child_process';
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

  describe('schema', () => {
    it('leaves one database and one table of each name when several processes create them at once', async () => {
      const fresh = `race_${randomUUID().slice(0, 8)}`;
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => RethinkdbStore.open({ ...options(), db: fresh })),
      );
      try {
        const pool = await RethinkdbPool.open({ ...address, db: fresh });
        const tables = await pool.run<{ name: string }[]>((r) =>
          r.db('rethinkdb').table('table_config').filter({ db: fresh }).pluck('name').coerceTo('array'),
        );
        const databases = await pool.run<unknown[]>((r) =>
          r.db('rethinkdb').table('db_config').filter({ name: fresh }).coerceTo('array'),
        );
        await pool.close();
        assert.equal(databases.length, 1);
        assert.deepEqual(tables.map((t) => t.name).sort(), ['claims', 'history_chunks', 'records']);
        // Every store works on the surviving tables.
        for (const [i, store] of stores.entries()) {
          const id = `race-${i}`;
          const record = {
            instanceId: id,
            version: 1,
            name: 'n',
            generation: 0,
            status: 'Running' as const,
            createdAt: 1,
            updatedAt: 1,
            historyLength: 0,
            tail: { instanceId: id, generation: 0, fromIndex: 0, events: [] },
            outbox: [],
          };
          assert.deepEqual(await store.compareAndSet(record, 0), { ok: true });
          assert.equal((await stores[(i + 1) % stores.length]?.get(id))?.version, 1);
        }
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });

  describe('the backend factory', () => {
    it('builds the store from DURABLE_STORE_URL and the lock from DURABLE_LOCK=rethinkdb', async () => {
      const config = loadConfig({
        DURABLE_BACKEND: 'memory',
        DURABLE_STORE_URL: `rethinkdb://${address.host}:${address.port}/${db}`,
        DURABLE_LOCK: 'rethinkdb',
      });
      const backends = await openBackends(config, new SystemClock());
      try {
        assert.equal(backends.store.constructor.name, 'RethinkdbStore');
        assert.equal(backends.lock.constructor.name, 'RethinkdbLock');
        assert.equal(backends.lock.epoch, `rethinkdb:${db}`);
        const key = `factory-${randomUUID()}`;
        assert.equal(await backends.lock.acquire(key, 'a', 60_000), 'clean');
        assert.equal(await backends.lock.acquire(key, 'b', 60_000), false, 'expiry is judged on the server clock');
        await backends.lock.release(key, 'a');
        await backends.store.putClaim(key, '{"x":1}');
        assert.equal(await backends.store.getClaim(key), '{"x":1}');
      } finally {
        await backends.close();
      }
    });
  });

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

describe('RethinkDB configuration', () => {
  it('reads DURABLE_STORE_URL with credentials, port, database and the table and timeout settings', () => {
    const config = loadConfig({
      DURABLE_STORE_URL: 'rethinkdb://worker:s%40cret@db.example:28016/prod_durable',
      DURABLE_RETHINKDB_CA: '/etc/ssl/rethinkdb-ca.pem',
      DURABLE_RETHINKDB_REPLICAS: '3',
      DURABLE_RETHINKDB_SHARDS: '2',
      DURABLE_RETHINKDB_TIMEOUT_MS: '2500',
      DURABLE_LOCK: 'rethinkdb',
    });
    assert.equal(config.lock, 'rethinkdb');
    assert.deepEqual(config.rethinkdb, {
      host: 'db.example',
      port: 28016,
      db: 'prod_durable',
      user: 'worker',
      password: 's@cret',
      caPath: '/etc/ssl/rethinkdb-ca.pem',
      replicas: 3,
      shards: 2,
      timeoutMs: 2500,
    });
  });

  it('defaults to port 28015, database durable, one replica and shard, and a 10 s query timeout', () => {
    assert.deepEqual(loadConfig({ DURABLE_STORE_URL: 'rethinkdb://localhost' }).rethinkdb, {
      host: 'localhost',
      port: 28015,
      db: 'durable',
      replicas: 1,
      shards: 1,
      timeoutMs: 10_000,
    });
    assert.equal(loadConfig({}).rethinkdb, undefined, 'the embedded default needs no RethinkDB');
  });

  it('refuses a store URL that is not rethinkdb://, or names an invalid database', () => {
    for (const url of ['redis://localhost', 'not a url', 'rethinkdb:///durable', 'rethinkdb://h/bad-name']) {
      assert.throws(
        () => loadConfig({ DURABLE_STORE_URL: url }),
        /DURABLE_STORE_URL must look like rethinkdb:\/\//,
        url,
      );
    }
  });

  it('refuses replicas, shards and timeouts that are not positive integers, and more than 64 shards', () => {
    const url = { DURABLE_STORE_URL: 'rethinkdb://localhost' };
    assert.throws(() => loadConfig({ ...url, DURABLE_RETHINKDB_REPLICAS: '0' }), /DURABLE_RETHINKDB_REPLICAS/);
    assert.throws(
      () => loadConfig({ ...url, DURABLE_RETHINKDB_SHARDS: '65' }),
      /DURABLE_RETHINKDB_SHARDS must be at most 64/,
    );
    assert.throws(() => loadConfig({ ...url, DURABLE_RETHINKDB_TIMEOUT_MS: '1.5' }), /DURABLE_RETHINKDB_TIMEOUT_MS/);
  });

  it('refuses DURABLE_LOCK=rethinkdb without a RethinkDB store URL', () => {
    assert.throws(() => loadConfig({ DURABLE_LOCK: 'rethinkdb' }), /DURABLE_LOCK=rethinkdb needs DURABLE_STORE_URL/);
  });

  it('never loads the rethinkdb driver for the embedded default', function () {
    this.timeout(30_000);
    // A fresh process: in this one, the suites above have loaded the driver already.
    const script = `
      import { createRequire } from 'node:module';
      import { mkdtempSync } from 'node:fs';
      import { tmpdir } from 'node:os';
      import { join } from 'node:path';
      import { loadConfig } from './src/config/config.ts';
      import { openBackends } from './src/host/backends.ts';
      import { SystemClock } from './src/backends/clock.ts';
      const dir = mkdtempSync(join(tmpdir(), 'durable-lazy-'));
      const backends = await openBackends(loadConfig({ DURABLE_SQLITE_PATH: join(dir, 'd.db') }), new SystemClock());
      await backends.close();
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/rethinkdb/'));
      console.log(JSON.stringify(loaded));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop() ?? ''), []);
  });
});
