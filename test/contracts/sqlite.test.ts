/**
 * Runs the backend contract suites against the SQLite adapters, each test on a fresh temporary file.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import { SqliteDatabase } from '../../src/backends/sqlite/sqlite-database.js';
import type { Durability } from '../../src/backends/sqlite/sqlite-database.js';
import { SqliteLock } from '../../src/backends/sqlite/sqlite-lock.js';
import { SqliteQueue } from '../../src/backends/sqlite/sqlite-queue.js';
import { SqliteStore } from '../../src/backends/sqlite/sqlite-store.js';
import { events } from '../../src/engine/history.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';
import type { ActivityMessage } from '../../src/engine/messages.js';
import { tick, track, untilSleeping } from './helpers.js';
import { lockContract } from './lock.contract.js';
import { queueBatchContract } from './queue-batch.contract.js';
import { queueContract } from './queue.contract.js';
import { queueReclaimContract } from './queue-reclaim.contract.js';
import { storeBatchContract } from './store-batch.contract.js';
import { storeContract } from './store.contract.js';

async function makeStore(durability: Durability): Promise<{ store: SqliteStore; cleanup: () => Promise<void> }> {
  const file = await tempDatabaseFile();
  return { store: new SqliteStore({ database: { path: file.path, durability } }), cleanup: file.cleanup };
}

for (const durability of ['full', 'normal'] as const) {
  storeContract(`SqliteStore, durability ${durability}`, () => makeStore(durability));
  storeBatchContract(`SqliteStore, durability ${durability}`, () => makeStore(durability));
}

queueContract('SqliteQueue', async (clock) => {
  const file = await tempDatabaseFile();
  return { queue: new SqliteQueue({ database: { path: file.path }, clock }), cleanup: file.cleanup };
});

queueBatchContract('SqliteQueue', async (clock) => {
  const file = await tempDatabaseFile();
  return { queue: new SqliteQueue({ database: { path: file.path }, clock }), cleanup: file.cleanup };
});

queueReclaimContract('SqliteQueue', async (clock) => {
  const file = await tempDatabaseFile();
  return { queue: new SqliteQueue({ database: { path: file.path }, clock }), cleanup: file.cleanup };
});

// The three adapters sharing one handle, as a process normally runs them: the lock suite on a shared connection.
lockContract('SqliteLock', async (clock) => {
  const file = await tempDatabaseFile();
  const database = SqliteDatabase.open({ path: file.path, durability: 'normal' });
  const lock = new SqliteLock({ database, clock });
  database.close(); // the lock holds its own reference
  return { lock, cleanup: file.cleanup };
});

describe('SqliteStore (beyond the contract)', () => {
  const started = events.executionStarted({ name: 'test', input: null, generation: 0 });

  it('refuses to read a history with a missing chunk, naming the instance', async () => {
    const file = await tempDatabaseFile();
    const store = new SqliteStore({ database: { path: file.path } });
    try {
      const tail = { instanceId: 'gappy', generation: 0, fromIndex: 3, events: [events.taskCompleted(3)] };
      const record = {
        instanceId: 'gappy',
        version: 1,
        name: 'test',
        generation: 0,
        status: 'Running' as const,
        createdAt: 0,
        updatedAt: 0,
        historyLength: 4,
        tail,
        outbox: [],
      };
      await store.compareAndSet(record, 0);
      await store.putHistoryChunk({ instanceId: 'gappy', generation: 0, fromIndex: 0, events: [started] });
      await store.putHistoryChunk({
        instanceId: 'gappy',
        generation: 0,
        fromIndex: 2,
        events: [events.taskCompleted(2)],
      });
      await assert.rejects(store.readHistory(record), /gappy.*index 1/);
    } finally {
      await store.close();
      await file.cleanup();
    }
  });

  it('changes its change token when another connection (another process) writes the file, and not on reads', async () => {
    const file = await tempDatabaseFile();
    const watcher = new SqliteStore({ database: { path: file.path } });
    const writer = new SqliteStore({ database: { path: file.path } });
    try {
      const before = await watcher.changeToken();
      assert.equal(await watcher.changeToken(), before, 'nothing written, same token');
      await watcher.list({});
      await watcher.countByStatus({});
      assert.equal(await watcher.changeToken(), before, 'reads change nothing');
      const tail = { instanceId: 'other', generation: 0, fromIndex: 0, events: [started] };
      const record = {
        instanceId: 'other',
        version: 1,
        name: 'test',
        generation: 0,
        status: 'Running' as const,
        createdAt: 0,
        updatedAt: 0,
        historyLength: 1,
        tail,
        outbox: [],
      };
      assert.deepEqual(await writer.compareAndSet(record, 0), { ok: true });
      const afterOther = await watcher.changeToken();
      assert.notEqual(afterOther, before, "another connection's write");
      assert.ok(await watcher.purge('other', 1));
      assert.notEqual(await watcher.changeToken(), afterOther, "this connection's own write");
    } finally {
      await watcher.close();
      await writer.close();
      await file.cleanup();
    }
  });

  it('keeps a shared connection open until the last adapter using it is closed', async () => {
    const file = await tempDatabaseFile();
    const database = SqliteDatabase.open({ path: file.path });
    const store = new SqliteStore({ database });
    const other = new SqliteStore({ database });
    database.close();
    database.close(); // extra closes, by the opener or by an adapter, give back nobody else's reference
    await store.close();
    await store.close();
    assert.equal(database.connection.open, true);
    assert.equal(await other.get('nobody'), undefined);
    await other.close();
    assert.equal(database.connection.open, false);
    await assert.rejects(other.get('nobody'));
    await file.cleanup();
  });
});

describe('SqliteQueue (beyond the contract)', () => {
  const message: ActivityMessage = {
    id: 'only',
    queue: 'activities',
    instanceId: 'i',
    body: { type: 'ActivityRequest', name: 'a', input: 1, generation: 0, seq: 0, attempt: 1, idempotencyKey: 'k' },
  };

  it('counts an expiry nobody observed when the late holder releases the message', async () => {
    // The memory queue applies expiry only when it looks at the queue; here attempt depends on time alone.
    const clock = new ManualClock();
    const queue = new SqliteQueue({ database: { path: ':memory:' }, clock });
    await queue.send([message]);
    const [late] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
    assert.ok(late !== undefined);
    clock.advance(1000);
    await queue.release(late, 0);
    const [again] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
    assert.equal(again?.attempt, 2);
    await queue.close();
  });

  it('wakes a receive waiting through another queue object on the same file when a message is sent', async () => {
    const file = await tempDatabaseFile();
    const clock = new ManualClock();
    const receiver = new SqliteQueue({ database: { path: file.path }, clock });
    const sender = new SqliteQueue({ database: { path: file.path }, clock });
    const waiting = track(receiver.receive('activities', 1, { visibilityTimeoutMs: 1000, waitMs: 60_000 }));
    await untilSleeping(clock);
    await sender.send([message]);
    assert.deepEqual(
      (await waiting.promise).map((d) => d.message),
      [message],
    );
    await Promise.all([receiver.close(), sender.close()]);
    await file.cleanup();
  });

  it('takes back, under its own boot id, what a handle with another boot id reserved on the same file', async () => {
    // A restart: the dead process's handle and the new one are two queue objects on one file, each with the
    // consumer (boot id) of its process, and receives that do not name a consumer.
    const file = await tempDatabaseFile();
    const clock = new ManualClock();
    const dead = new SqliteQueue({ database: { path: file.path }, clock, consumer: 'boot-1' });
    const restarted = new SqliteQueue({ database: { path: file.path }, clock, consumer: 'boot-2' });
    await dead.send([message, { ...message, id: 'second' }]);
    assert.equal((await dead.receive('activities', 1, { visibilityTimeoutMs: 60_000 })).length, 1);
    const [own] = await restarted.receive('activities', 1, { visibilityTimeoutMs: 60_000 });
    assert.equal(own?.message.id, 'second');

    assert.equal(await restarted.reclaim('boot-2'), 1);
    const [back] = await restarted.receive('activities', 1, { visibilityTimeoutMs: 60_000 });
    assert.deepEqual([back?.message.id, back?.attempt], ['only', 2]);
    assert.equal(await restarted.reclaim('boot-2'), 0, 'both reservations are now its own');
    await Promise.all([dead.close(), restarted.close()]);
    await file.cleanup();
  });

  it('finds a message written to the file behind its back at the next poll, one poll interval later', async () => {
    const file = await tempDatabaseFile();
    const clock = new ManualClock();
    const queue = new SqliteQueue({ database: { path: file.path }, clock, pollIntervalMs: 50 });
    const waiting = track(queue.receive('activities', 1, { visibilityTimeoutMs: 1000, waitMs: 60_000 }));
    await untilSleeping(clock);
    // Another process's send: written straight into the file, so no in-process notification reaches the queue.
    const other = SqliteDatabase.open({ path: file.path });
    other.connection
      .prepare(
        `INSERT INTO messages (queue, message_id, instance_id, priority, state, visible_at, attempt, body)
         VALUES ('activities', 'only', 'i', 100, 'ready', ?, 1, ?)`,
      )
      .run(clock.now(), JSON.stringify(message));
    other.close();
    clock.advance(49);
    await tick();
    assert.equal(waiting.settled(), false, 'woke before the poll');
    clock.advance(1);
    assert.deepEqual(
      (await waiting.promise).map((d) => d.message),
      [message],
    );
    await queue.close();
    await file.cleanup();
  });
});
