/**
 * The store's batch operations, as a conformance suite: `commitMany` (group commit) and `getMany`. Every adapter
 * runs it; it relies only on the store contract (src/backends/store.ts). Fresh instance ids in every test, so it
 * also passes on a database shared with other tests.
 */
import assert from 'node:assert/strict';
import type { HistoryEvent } from '../../src/engine/history.js';
import { events } from '../../src/engine/history.js';
import type { HistoryChunk, InstanceRecord, Store } from '../../src/backends/store.js';
import { nextRecord } from '../../src/backends/store.js';
import { uniqueId } from './helpers.js';
import type { StoreFixture } from './store.contract.js';

const T0 = Date.UTC(2026, 0, 1);

/** `count` distinct events, numbered from `first`, so concatenation order is visible. */
function numbered(first: number, count: number): HistoryEvent[] {
  return Array.from({ length: count }, (_, i) => events.taskCompleted(first + i, `result ${first + i}`));
}

/** A version-1 record whose tail holds history indexes 0 … `length - 1` (no chunks yet). */
function created(instanceId: string, length = 1, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  const tail: HistoryChunk = { instanceId, generation: 0, fromIndex: 0, events: numbered(0, length) };
  return {
    instanceId,
    version: 1,
    name: 'batch',
    generation: 0,
    status: 'Running',
    createdAt: T0,
    updatedAt: T0,
    historyLength: length,
    tail,
    outbox: [],
    ...overrides,
  };
}

/** The next turn of `current`: its tail is archived as a chunk and `added` new events become the tail. */
function turn(current: InstanceRecord, added: number): { archive: HistoryChunk; next: InstanceRecord } {
  const fromIndex = current.historyLength;
  const next = nextRecord(current, {
    historyLength: fromIndex + added,
    tail: {
      instanceId: current.instanceId,
      generation: current.generation,
      fromIndex,
      events: numbered(fromIndex, added),
    },
    updatedAt: current.updatedAt + 1,
  });
  return { archive: current.tail, next };
}

/**
 * Declares the batch store tests for one adapter.
 * @example
 * storeBatchContract('MemoryStore', async () => ({ store: new MemoryStore() }));
 */
export function storeBatchContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`${name} (store batch contract)`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanup?.();
    });

    describe('commitMany', () => {
      it('commits every item of a batch and returns one result per item', async () => {
        const a = created(uniqueId('batch-a'));
        const b = created(uniqueId('batch-b'));
        const results = await store.commitMany([
          { next: a, expectedVersion: 0 },
          { next: b, expectedVersion: 0 },
        ]);
        assert.deepEqual(results, [{ ok: true }, { ok: true }]);
        assert.deepEqual(await store.get(a.instanceId), a);
        assert.deepEqual(await store.get(b.instanceId), b);
      });

      it('decides each item on its own: a conflict in the middle neither stops nor undoes the others', async () => {
        const taken = created(uniqueId('batch-taken'));
        await store.compareAndSet(taken, 0);
        const first = created(uniqueId('batch-first'));
        const last = created(uniqueId('batch-last'));
        const results = await store.commitMany([
          { next: first, expectedVersion: 0 },
          { next: { ...taken, name: 'intruder' }, expectedVersion: 0 },
          { next: last, expectedVersion: 0 },
        ]);
        assert.deepEqual(results, [{ ok: true }, { ok: false, current: taken }, { ok: true }]);
        assert.deepEqual(await store.get(first.instanceId), first);
        assert.deepEqual(await store.get(taken.instanceId), taken);
        assert.deepEqual(await store.get(last.instanceId), last);
      });

      it('returns results in item order, whatever mix of creations, updates and conflicts', async () => {
        const existing = created(uniqueId('batch-existing'));
        await store.compareAndSet(existing, 0);
        const stale = created(uniqueId('batch-stale'));
        await store.compareAndSet(stale, 0);
        const moved = nextRecord(stale, { status: 'Completed' });
        await store.compareAndSet(moved, 1);
        const fresh = created(uniqueId('batch-fresh'));
        const results = await store.commitMany([
          { next: nextRecord(stale, { status: 'Failed' }), expectedVersion: 1 },
          { next: fresh, expectedVersion: 0 },
          { next: nextRecord(existing, { status: 'Suspended' }), expectedVersion: 1 },
          { next: nextRecord(created(uniqueId('batch-missing')), {}), expectedVersion: 1 },
        ]);
        assert.deepEqual(results, [
          { ok: false, current: moved },
          { ok: true },
          { ok: true },
          { ok: false, current: undefined },
        ]);
        assert.equal((await store.get(existing.instanceId))?.status, 'Suspended');
        assert.equal((await store.get(stale.instanceId))?.status, 'Completed');
      });

      it('writes each item’s archived tail as a chunk, so the next turn reads the whole history', async () => {
        const one = created(uniqueId('batch-archive-1'), 2);
        const two = created(uniqueId('batch-archive-2'), 3);
        await store.commitMany([
          { next: one, expectedVersion: 0 },
          { next: two, expectedVersion: 0 },
        ]);
        const turnOne = turn(one, 2);
        const turnTwo = turn(two, 1);
        const results = await store.commitMany([
          { ...turnOne, expectedVersion: 1 },
          { ...turnTwo, expectedVersion: 1 },
        ]);
        assert.deepEqual(results, [{ ok: true }, { ok: true }]);
        assert.deepEqual(await store.readHistory(turnOne.next), numbered(0, 4));
        assert.deepEqual(await store.readHistory(turnTwo.next), numbered(0, 4));
        const again = turn(turnOne.next, 1);
        await store.commitMany([{ ...again, expectedVersion: 2 }]);
        assert.deepEqual(await store.readHistory((await store.get(one.instanceId)) as InstanceRecord), numbered(0, 5));
      });

      it('leaves the winner’s record and history intact when a losing item archives the same tail', async () => {
        const base = created(uniqueId('batch-loser'), 2);
        await store.compareAndSet(base, 0);
        const winner = turn(base, 1);
        assert.deepEqual(await store.commitMany([{ ...winner, expectedVersion: 1 }]), [{ ok: true }]);
        // A stale worker, still at version 1, commits its own turn from the same base.
        const loser = turn(base, 3);
        const [result] = await store.commitMany([{ ...loser, expectedVersion: 1 }]);
        assert.deepEqual(result, { ok: false, current: winner.next });
        const current = (await store.get(base.instanceId)) as InstanceRecord;
        assert.deepEqual(current, winner.next);
        assert.deepEqual(await store.readHistory(current), numbered(0, 3));
      });

      it('returns an empty list for an empty batch', async () => {
        assert.deepEqual(await store.commitMany([]), []);
      });

      it('rejects a batch holding an item whose version is not expectedVersion + 1', async () => {
        const bad = created(uniqueId('batch-bad'));
        await assert.rejects(store.commitMany([{ next: { ...bad, version: 3 }, expectedVersion: 0 }]));
        assert.equal(await store.get(bad.instanceId), undefined);
      });
    });

    describe('getMany', () => {
      it('returns the records that exist, keyed by id, and leaves out the missing ones', async () => {
        const a = created(uniqueId('many-a'));
        const b = nextRecord(created(uniqueId('many-b')), { status: 'Completed', output: { total: 3 } });
        await store.compareAndSet(a, 0);
        await store.compareAndSet(created(b.instanceId), 0);
        await store.compareAndSet(b, 1);
        const missing = uniqueId('many-missing');
        const found = await store.getMany([a.instanceId, missing, b.instanceId]);
        assert.deepEqual([...found.keys()].sort(), [a.instanceId, b.instanceId].sort());
        assert.deepEqual(found.get(a.instanceId), a);
        assert.deepEqual(found.get(b.instanceId), b);
        assert.equal(found.has(missing), false);
      });

      it('returns an empty map for no ids or only unknown ids', async () => {
        assert.equal((await store.getMany([])).size, 0);
        assert.equal((await store.getMany([uniqueId('nobody'), uniqueId('nobody')])).size, 0);
      });

      it('reads many records at once, an id asked for twice appearing once', async () => {
        const records = Array.from({ length: 120 }, (_, i) => created(uniqueId(`many-${i}`)));
        const results = await store.commitMany(records.map((next) => ({ next, expectedVersion: 0 })));
        assert.ok(results.every((r) => r.ok));
        const first = records[0] as InstanceRecord;
        const found = await store.getMany([...records.map((r) => r.instanceId), first.instanceId]);
        assert.equal(found.size, records.length);
        for (const record of records) assert.deepEqual(found.get(record.instanceId), record);
      });

      it('hands out copies: mutating a returned record changes nothing stored', async () => {
        const record = created(uniqueId('many-copy'), 1, { customStatus: { step: 1 } });
        await store.compareAndSet(record, 0);
        const found = await store.getMany([record.instanceId]);
        (found.get(record.instanceId)?.customStatus as { step: number }).step = 2;
        assert.deepEqual((await store.get(record.instanceId))?.customStatus, { step: 1 });
      });
    });
  });
}
