/**
 * Schema versions of the SQLite file: a file written by schema v1 (the committed fixture) opens with the current
 * code, data intact and the version brought up to date; a file from a newer schema is refused untouched; several
 * processes opening a new file at once agree on one migration.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/backends/clock.js';
import { SCHEMA_VERSION, SqliteDatabase, SqliteSchemaError } from '../../src/backends/sqlite/sqlite-database.js';
import { SqliteLock } from '../../src/backends/sqlite/sqlite-lock.js';
import { SqliteQueue } from '../../src/backends/sqlite/sqlite-queue.js';
import { SqliteStore } from '../../src/backends/sqlite/sqlite-store.js';
import type { TempDatabaseFile } from '../fixtures/sqlite-files.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';
import { startChild } from '../fixtures/sqlite-processes.js';
import {
  FIXTURE_DEAD_REASON,
  FIXTURE_LOCK,
  FIXTURE_MESSAGES,
  FIXTURE_RECORDS,
  FIXTURE_TIME,
  FIXTURE_VISIBILITY_MS,
  ORDER_1_HISTORY,
} from '../fixtures/sqlite-schema-v1-data.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/sqlite-schema-v1.db', import.meta.url));

describe('SQLite schema migrations', function () {
  this.timeout(30_000);
  let file: TempDatabaseFile;

  beforeEach(async () => {
    file = await tempDatabaseFile();
  });

  afterEach(async () => {
    await file.cleanup();
  });

  describe('a file written by schema v1', () => {
    let database: SqliteDatabase;
    let clock: ManualClock;

    beforeEach(async () => {
      // A copy: the committed fixture itself is never opened for writing.
      await copyFile(FIXTURE, file.path);
      const raw = new Database(file.path, { readonly: true });
      assert.equal(raw.pragma('user_version', { simple: true }), 1, 'the fixture is a v1 file');
      raw.close();
      clock = new ManualClock(FIXTURE_TIME);
      database = SqliteDatabase.open({ path: file.path });
    });

    afterEach(() => {
      database.close();
    });

    it('opens at the current schema version', () => {
      assert.equal(database.schemaVersion(), SCHEMA_VERSION);
    });

    it('still holds its records, their history, and lists them', async () => {
      const store = new SqliteStore({ database });
      for (const record of FIXTURE_RECORDS) assert.deepEqual(await store.get(record.instanceId), record);
      const order1 = FIXTURE_RECORDS[0];
      assert.ok(order1 !== undefined);
      assert.deepEqual(await store.readHistory(order1), ORDER_1_HISTORY);
      const orders = await store.list({ name: 'order' });
      assert.deepEqual(orders.items.map((r) => r.instanceId).sort(), ['order-1', 'order-2']);
      assert.deepEqual(
        (await store.list({ kind: 'entity' })).items.map((r) => r.instanceId),
        ['counter@a'],
      );
      await store.close();
    });

    it('still holds its messages: ready in priority order, delayed, reserved and dead', async () => {
      const queue = new SqliteQueue({ database, clock });
      assert.deepEqual(await queue.depth('orchestrations'), { ready: 2, delayed: 1, reserved: 0, dead: 0 });
      assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 1 });
      assert.deepEqual(await queue.deadLetters('activities'), [
        { message: FIXTURE_MESSAGES.poison, reason: FIXTURE_DEAD_REASON },
      ]);
      const ready = await queue.receive('orchestrations', 10, { visibilityTimeoutMs: 1000 });
      assert.deepEqual(
        ready.map((d) => d.message),
        [FIXTURE_MESSAGES.reply, FIXTURE_MESSAGES.work],
      );
      await queue.settle({ ack: ready });
      clock.advance(FIXTURE_VISIBILITY_MS);
      const [again] = await queue.receive('activities', 10, { visibilityTimeoutMs: 1000 });
      assert.deepEqual(again?.message, FIXTURE_MESSAGES.activity);
      assert.equal(again?.attempt, 2, 'the reservation made by v1 expired and counted');
      clock.advance(60_000);
      const [timer] = await queue.receive('orchestrations', 10, { visibilityTimeoutMs: 1000 });
      assert.deepEqual(timer?.message, FIXTURE_MESSAGES.timer);
      await queue.close();
    });

    it('still holds its lock', async () => {
      const lock = new SqliteLock({ database, clock });
      assert.equal(await lock.acquire(FIXTURE_LOCK.key, 'worker-2', 1000), false);
      assert.equal(await lock.renew(FIXTURE_LOCK.key, FIXTURE_LOCK.owner, 1000), true);
      await lock.close();
    });
  });

  it('creates a new file at the current schema version, and opening it again changes nothing', async () => {
    const first = SqliteDatabase.open({ path: file.path });
    assert.equal(first.schemaVersion(), SCHEMA_VERSION);
    first.close();
    const second = SqliteDatabase.open({ path: file.path, durability: 'normal' });
    assert.equal(second.schemaVersion(), SCHEMA_VERSION);
    second.close();
  });

  it('refuses a file from a newer schema with a clear error and leaves it as it was', async () => {
    const raw = new Database(file.path);
    raw.exec('CREATE TABLE future_things (id TEXT PRIMARY KEY)');
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = await readFile(file.path);
    assert.throws(
      () => SqliteDatabase.open({ path: file.path }),
      (error: unknown) => {
        assert.ok(error instanceof SqliteSchemaError);
        assert.equal(error.fileVersion, SCHEMA_VERSION + 1);
        assert.match(error.message, new RegExp(`schema version ${SCHEMA_VERSION + 1}.*up to ${SCHEMA_VERSION}`));
        assert.match(error.message, /Upgrade Durable/);
        return true;
      },
    );
    assert.deepEqual(await readFile(file.path), before, 'the file was not modified');
    const check = new Database(file.path, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
    assert.equal(check.pragma('journal_mode', { simple: true }), 'delete', 'not even the journal mode changed');
    check.close();
  });

  it('lets several processes open a new file at the same moment, all at the current version', async () => {
    const children = Array.from({ length: 3 }, () => startChild(['open', file.path]));
    const answers = await Promise.all(children.map((child) => child.next<{ schemaVersion: number }>()));
    await Promise.all(children.map((child) => child.exited));
    assert.deepEqual(
      answers,
      children.map(() => ({ schemaVersion: SCHEMA_VERSION })),
    );
    const database = SqliteDatabase.open({ path: file.path });
    const tables = database.connection
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
      .pluck()
      .all();
    assert.deepEqual(tables, ['claims', 'history_chunks', 'locks', 'messages', 'records']);
    database.close();
  });
});
