/**
 * Several OS processes sharing one SQLite file: each message goes to exactly one consumer, compare-and-set
 * conflicts between processes are detected (no lost update), a reservation held by a killed process comes back
 * after its visibility timeout, and a commit survives the SIGKILL of the process that made it.
 *
 * The children are real `node --import tsx` processes (test/fixtures/sqlite-child.ts); every wait on them is
 * bounded by the helper's timeout.
 */
import { runningRecord } from '../helpers/records.js';
import assert from 'node:assert/strict';
import { ManualClock, SystemClock } from '../../src/backends/clock.js';
import { SqliteDatabase } from '../../src/backends/sqlite/sqlite-database.js';
import { SqliteQueue } from '../../src/backends/sqlite/sqlite-queue.js';
import { SqliteStore } from '../../src/backends/sqlite/sqlite-store.js';
import type { InstanceRecord } from '../../src/backends/store.js';
import { nextRecord } from '../../src/backends/store.js';
import type { OrchestrationMessage } from '../../src/engine/messages.js';
import type { TempDatabaseFile } from '../fixtures/sqlite-files.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';
import { startChild } from '../fixtures/sqlite-processes.js';

const T0 = Date.UTC(2026, 5, 1);

function record(instanceId: string, customStatus: unknown): InstanceRecord {
  return runningRecord(instanceId, { name: 'shared', createdAt: T0, updatedAt: T0, customStatus });
}

describe('SQLite shared by several processes', function () {
  this.timeout(60_000);
  let file: TempDatabaseFile;

  beforeEach(async () => {
    file = await tempDatabaseFile();
  });

  afterEach(async () => {
    await file.cleanup();
  });

  it('gives every message to exactly one of two consuming processes, and loses no counter update', async () => {
    const database = SqliteDatabase.open({ path: file.path, durability: 'normal' });
    const store = new SqliteStore({ database });
    const queue = new SqliteQueue({ database, clock: new SystemClock() });
    database.close();
    await store.compareAndSet(record('counter', { count: 0 }), 0);
    const sent: OrchestrationMessage[] = Array.from({ length: 400 }, (_, i) => ({
      id: `m${i}`,
      queue: 'orchestrations',
      instanceId: `i${i % 7}`,
      body: { type: 'EventRaised', name: 'tick', input: i },
    }));
    await queue.send(sent);

    const children = [startChild(['consume', file.path, 'counter']), startChild(['consume', file.path, 'counter'])];
    for (const child of children) assert.deepEqual(await child.next(), { ready: true });
    // Each consumer first reserves a batch and waits: both provably hold messages before either drains the queue.
    for (const child of children) child.tell('go');
    const firsts = await Promise.all(children.map((child) => child.next<{ first: number }>()));
    assert.ok(
      firsts.every((f) => f.first > 0),
      'each consumer got a first batch',
    );
    for (const child of children) child.tell('go on'); // from here they compete for every batch
    type Report = { received: string[]; conflicts: number };
    const reports = await Promise.all(children.map((child) => child.next<Report>()));
    const exits = await Promise.all(children.map((child) => child.exited));
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0],
    );

    const received = reports.flatMap((r) => r.received);
    assert.equal(new Set(received).size, received.length, 'a message was delivered twice');
    assert.deepEqual([...received].sort(), sent.map((m) => m.id).sort(), 'a message was lost');
    assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
    // Every increment landed once: a write from a stale read was refused as a conflict and retried.
    const counter = await store.get('counter');
    assert.deepEqual(counter?.customStatus, { count: sent.length });
    assert.equal(counter?.version, sent.length + 1);
    await Promise.all([store.close(), queue.close()]);
  });

  it('refuses a compare-and-set on a version another process has already committed', async () => {
    const store = new SqliteStore({ database: { path: file.path } });
    const v1 = record('contended', null);
    await store.compareAndSet(v1, 0);
    const child = startChild(['cas', file.path, 'contended', 'Completed']);
    assert.deepEqual(await child.next(), { ok: true });
    assert.equal((await child.exited).code, 0);
    const mine = nextRecord(v1, { status: 'Failed' });
    const result = await store.compareAndSet(mine, 1);
    assert.equal(result.ok, false);
    assert.equal(result.ok === false ? result.current?.status : undefined, 'Completed');
    assert.equal((await store.get('contended'))?.status, 'Completed');
    await store.close();
  });

  it('delivers again, with attempt 2, a message reserved by a process that was killed', async () => {
    const clock = new ManualClock(T0);
    const queue = new SqliteQueue({ database: { path: file.path }, clock });
    await queue.send([
      {
        id: 'orphan',
        queue: 'activities',
        instanceId: 'i',
        body: { type: 'ActivityRequest', name: 'a', input: 1, generation: 0, seq: 0, attempt: 1, idempotencyKey: 'k' },
      },
    ]);
    // The child's clock stands at the same instant as ours, so the reservation expires at T0 + 30 s for both.
    const child = startChild(['reserve', file.path, String(T0), '30000']);
    assert.deepEqual(await child.next(), { id: 'orphan', attempt: 1 });
    child.kill('SIGKILL');
    assert.equal((await child.exited).signal, 'SIGKILL');

    assert.deepEqual(await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 }), []);
    assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
    clock.advance(29_999);
    assert.deepEqual(await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 }), []);
    clock.advance(1);
    const [again] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
    assert.equal(again?.message.id, 'orphan');
    assert.equal(again?.attempt, 2);
    await queue.close();
  });

  it('keeps what a process committed with durability normal when that process is killed', async () => {
    const child = startChild(['commit-and-die', file.path, 'survivor']);
    assert.deepEqual(await child.next(), { committed: true });
    assert.equal((await child.exited).signal, 'SIGKILL');
    const database = SqliteDatabase.open({ path: file.path });
    const store = new SqliteStore({ database });
    const queue = new SqliteQueue({ database, clock: new ManualClock() });
    database.close();
    assert.equal((await store.get('survivor'))?.name, 'crash');
    const [delivery] = await queue.receive('orchestrations', 1, { visibilityTimeoutMs: 1000 });
    assert.equal(delivery?.message.id, 'survivor/m');
    await Promise.all([store.close(), queue.close()]);
  });
});
