/**
 * Group commit on RethinkDB beyond the batch contract: `commitMany` writes a batch as one chunk insert, one insert
 * of the creations and one `getAll(...).replace` of the updates, and recovers each item's result by key. These tests
 * cover what that shape could get wrong and the contract suite does not reach: the server's order of `changes`,
 * a key twice in one batch, a record purged between read and commit, and ids the server could read as special.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RethinkdbStore } from '../../src/backends/rethinkdb/rethinkdb-store.js';
import type { InstanceRecord } from '../../src/backends/store.js';
import { nextRecord } from '../../src/backends/store.js';
import { events } from '../../src/engine/history.js';
import type { RethinkdbAddress } from '../fixtures/rethinkdb-server.js';
import { RethinkdbServer, externalRethinkdb, requireRethinkdb } from '../fixtures/rethinkdb-server.js';

function created(instanceId: string): InstanceRecord {
  return {
    instanceId,
    version: 1,
    name: 'group',
    generation: 0,
    status: 'Running',
    createdAt: 1,
    updatedAt: 1,
    historyLength: 1,
    tail: { instanceId, generation: 0, fromIndex: 0, events: [events.taskCompleted(0, 'first')] },
    outbox: [],
  };
}

/** The next turn: the tail archived, one new event as the tail. */
function turn(current: InstanceRecord, result: string): { archive: InstanceRecord['tail']; next: InstanceRecord } {
  const fromIndex = current.historyLength;
  return {
    archive: current.tail,
    next: nextRecord(current, {
      historyLength: fromIndex + 1,
      tail: {
        instanceId: current.instanceId,
        generation: 0,
        fromIndex,
        events: [events.taskCompleted(fromIndex, result)],
      },
    }),
  };
}

describe('RethinkdbStore group commit', function () {
  this.timeout(60_000);
  requireRethinkdb();

  let server: RethinkdbServer | undefined;
  let address: RethinkdbAddress;
  let store: RethinkdbStore;
  const db = `durable_test_${randomUUID().replace(/-/g, '')}`;

  before(async () => {
    address = externalRethinkdb() ?? (server = await RethinkdbServer.start()).address;
    store = await RethinkdbStore.open({ ...address, db, timeoutMs: 10_000 });
  });

  after(async () => {
    await store?.close();
    await server?.stop();
  });

  it('returns each of 200 mixed results in item order though the server reports changes in its own order', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `order-${randomUUID()}-${i}`);
    // Every third id exists already: its creation conflicts; the others are updated from version 1.
    const existing = ids.filter((_, i) => i % 3 === 0).map(created);
    assert.ok((await store.commitMany(existing.map((next) => ({ next, expectedVersion: 0 })))).every((r) => r.ok));
    await store.commitMany(ids.filter((_, i) => i % 3 !== 0).map((id) => ({ next: created(id), expectedVersion: 0 })));
    // Now: creations for ids 0, 3, 6… (conflict), updates for all others, half of them at a stale version.
    const batch = ids.map((id, i) => {
      if (i % 3 === 0) return { next: created(id), expectedVersion: 0 };
      const stale = i % 2 === 0;
      const base = stale ? { ...created(id), version: 5 } : created(id);
      return { ...turn(base, `r${i}`), expectedVersion: base.version };
    });
    const results = await store.commitMany(batch);
    results.forEach((result, i) => {
      const expectOk = i % 3 !== 0 && i % 2 !== 0;
      assert.equal(result.ok, expectOk, `item ${i}`);
      if (!result.ok) assert.equal(result.current?.instanceId, ids[i], `item ${i} is refused against its own record`);
    });
    const stored = await store.getMany(ids);
    ids.forEach((id, i) => assert.equal(stored.get(id)?.version, results[i]?.ok ? 2 : 1, id));
  });

  it('decides a second item for the same instance in one batch against the first item’s write', async () => {
    const id = `twice-${randomUUID()}`;
    const first = created(id);
    const second = turn(first, 'second');
    const stale = turn(first, 'stale');
    const results = await store.commitMany([
      { next: first, expectedVersion: 0 },
      { ...second, expectedVersion: 1 },
      { ...stale, expectedVersion: 1 },
    ]);
    assert.deepEqual(results.slice(0, 2), [{ ok: true }, { ok: true }]);
    assert.equal(results[2]?.ok, false);
    assert.deepEqual(results[2]?.ok === false ? results[2].current : undefined, second.next);
    assert.deepEqual(await store.readHistory(second.next), [
      events.taskCompleted(0, 'first'),
      events.taskCompleted(1, 'second'),
    ]);
  });

  it('refuses an update of a record purged since it was read, with no current record, and commits the rest', async () => {
    const [gone, kept] = [`purged-${randomUUID()}`, `kept-${randomUUID()}`];
    await store.commitMany([gone, kept].map((id) => ({ next: created(id), expectedVersion: 0 })));
    assert.equal(await store.purge(gone, 1), true);
    const results = await store.commitMany([
      { ...turn(created(gone), 'late'), expectedVersion: 1 },
      { ...turn(created(kept), 'on time'), expectedVersion: 1 },
    ]);
    assert.deepEqual(results, [{ ok: false, current: undefined }, { ok: true }]);
    assert.equal(await store.get(gone), undefined, 'the purged record stays purged');
  });

  it('commits instance ids that the server could read as special fields', async () => {
    const ids = ['$reql_type$', 'k', `id with spaces ${randomUUID()}`, '__proto__'];
    assert.ok(
      (await store.commitMany(ids.map((id) => ({ next: created(id), expectedVersion: 0 })))).every((r) => r.ok),
    );
    const updates = await store.commitMany(ids.map((id) => ({ ...turn(created(id), 'two'), expectedVersion: 1 })));
    assert.deepEqual(
      updates,
      ids.map(() => ({ ok: true })),
    );
    for (const id of ids) assert.equal((await store.get(id))?.version, 2, id);
  });
});
