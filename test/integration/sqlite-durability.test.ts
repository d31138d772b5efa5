/**
 * Durability across reopen: everything the SQLite adapters committed through one connection is there, unchanged,
 * for a new connection after the first was closed — records, history, list order, messages in every state
 * (reservations included: a receipt from before the reopen still works), and locks.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import { SqliteDatabase } from '../../src/backends/sqlite/sqlite-database.js';
import { SqliteLock } from '../../src/backends/sqlite/sqlite-lock.js';
import { SqliteQueue } from '../../src/backends/sqlite/sqlite-queue.js';
import { SqliteStore } from '../../src/backends/sqlite/sqlite-store.js';
import type { InstanceRecord } from '../../src/backends/store.js';
import { nextRecord } from '../../src/backends/store.js';
import { events } from '../../src/engine/history.js';
import type { ActivityMessage, OrchestrationMessage } from '../../src/engine/messages.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';

const T0 = Date.UTC(2026, 3, 1);

function record(instanceId: string, createdAt: number): InstanceRecord {
  return {
    instanceId,
    version: 1,
    name: 'durable',
    generation: 0,
    status: 'Running',
    createdAt,
    updatedAt: createdAt,
    historyLength: 1,
    tail: {
      instanceId,
      generation: 0,
      fromIndex: 0,
      events: [events.executionStarted({ name: 'durable', input: 1, generation: 0 })],
    },
    outbox: [],
  };
}

function message(id: string, overrides: Partial<OrchestrationMessage> = {}): OrchestrationMessage {
  return {
    id,
    queue: 'orchestrations',
    instanceId: 'i',
    body: { type: 'EventRaised', name: id, input: null },
    ...overrides,
  };
}

const activity: ActivityMessage = {
  id: 'act',
  queue: 'activities',
  instanceId: 'i',
  body: { type: 'ActivityRequest', name: 'a', input: 1, generation: 0, seq: 0, attempt: 1, idempotencyKey: 'i/0/0' },
};

for (const durability of ['full', 'normal'] as const) {
  describe(`SQLite durability across reopen (durability ${durability})`, function () {
    this.timeout(20_000);

    it('finds everything committed before the close after reopening the file', async () => {
      const file = await tempDatabaseFile();
      const clock = new ManualClock(T0);
      try {
        // Write with one connection.
        let database = SqliteDatabase.open({ path: file.path, durability });
        let store = new SqliteStore({ database });
        let queue = new SqliteQueue({ database, clock });
        let lock = new SqliteLock({ database, clock });
        const a = record('a', T0);
        const b = record('b', T0 + 1);
        await store.compareAndSet(a, 0);
        await store.compareAndSet(b, 0);
        const a2 = nextRecord(a, {
          historyLength: 3,
          tail: {
            instanceId: 'a',
            generation: 0,
            fromIndex: 1,
            events: [events.taskScheduled(0, 'x', { n: 1 }), events.taskCompleted(0, 'y')],
          },
        });
        assert.deepEqual(await store.commitMany([{ archive: a.tail, next: a2, expectedVersion: 1 }]), [{ ok: true }]);
        await queue.send([message('ready'), message('later', { deliverAt: T0 + 5000 }), message('dead'), activity]);
        const [reserved] = await queue.receive('activities', 1, { visibilityTimeoutMs: 10_000 });
        const [first] = await queue.receive('orchestrations', 1, { visibilityTimeoutMs: 10_000 });
        assert.equal(first?.message.id, 'ready');
        await queue.release(first, 0);
        const [ready, dead] = await queue.receive('orchestrations', 2, { visibilityTimeoutMs: 10_000 });
        assert.equal(dead?.message.id, 'dead');
        assert.ok(ready !== undefined);
        await queue.release(ready, 0);
        await queue.deadLetter(dead, 'broken');
        assert.equal(await lock.acquire('k', 'owner', 60_000), 'clean');
        await Promise.all([store.close(), queue.close(), lock.close()]);
        database.close();
        assert.equal(database.connection.open, false);

        // Read with a new connection.
        database = SqliteDatabase.open({ path: file.path, durability });
        store = new SqliteStore({ database });
        queue = new SqliteQueue({ database, clock });
        lock = new SqliteLock({ database, clock });
        database.close();
        assert.deepEqual(await store.get('a'), a2);
        assert.deepEqual(await store.get('b'), b);
        assert.deepEqual(await store.readHistory(a2), [...a.tail.events, ...a2.tail.events]);
        assert.deepEqual(
          (await store.list({ name: 'durable' })).items.map((r) => r.instanceId),
          ['b', 'a'],
        );
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 1, delayed: 1, reserved: 0, dead: 1 });
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
        assert.deepEqual(await queue.deadLetters('orchestrations'), [{ message: message('dead'), reason: 'broken' }]);
        assert.equal(await queue.nextVisibleAt('orchestrations'), T0 + 5000);
        const [again] = await queue.receive('orchestrations', 5, { visibilityTimeoutMs: 10_000 });
        assert.deepEqual(again?.message, message('ready'));
        assert.equal(again?.attempt, 1);
        assert.ok(reserved !== undefined);
        await queue.ack(reserved); // a receipt handed out before the reopen still settles its reservation
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
        assert.equal(await lock.acquire('k', 'someone else', 60_000), false);
        assert.equal(await lock.renew('k', 'owner', 60_000), true);
        await Promise.all([store.close(), queue.close(), lock.close()]);
      } finally {
        await file.cleanup();
      }
    });
  });
}
