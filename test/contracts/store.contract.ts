/**
 * The store conformance suite. Every adapter runs it; it relies only on the store contract
 * (src/backends/store.ts). Each test uses fresh instance ids and, for `list`, a fresh orchestration name,
 * so it also passes on a database shared with other tests.
 */
import assert from 'node:assert/strict';
import { EMPTY_ENTITY } from '../../src/engine/entity-executor.js';
import { ValidationError } from '../../src/engine/errors.js';
import type { HistoryEvent } from '../../src/engine/history.js';
import { events } from '../../src/engine/history.js';
import type { RuntimeStatus } from '../../src/engine/status.js';
import type { HistoryChunk, InstanceRecord, Store } from '../../src/backends/store.js';
import { nextRecord } from '../../src/backends/store.js';
import { uniqueId } from './helpers.js';

export interface StoreFixture {
  /** A store ready for use; the suite closes it after each test. */
  readonly store: Store;
  /** Runs after `close()`: drop tables, delete files. */
  readonly cleanup?: () => Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);

function started(name: string, at = T0): HistoryEvent {
  return events.executionStarted({ name, input: { n: 1 }, generation: 0 }, at);
}

/** A record at version 1 (unless overridden) whose tail is its generation's ExecutionStarted (unless given). */
function newRecord(instanceId: string, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  const generation = overrides.generation ?? 0;
  const tail: HistoryChunk = overrides.tail ?? { instanceId, generation, fromIndex: 0, events: [started('test')] };
  return {
    instanceId,
    version: 1,
    name: 'test',
    generation,
    status: 'Running',
    createdAt: T0,
    updatedAt: T0,
    historyLength: tail.fromIndex + tail.events.length,
    tail,
    outbox: [],
    ...overrides,
  };
}

function chunk(
  instanceId: string,
  generation: number,
  fromIndex: number,
  list: HistoryEvent[],
  incarnation?: string,
): HistoryChunk {
  return { instanceId, ...(incarnation !== undefined ? { incarnation } : {}), generation, fromIndex, events: list };
}

/** `count` distinct events, numbered from `first`, so concatenation order is visible. */
function numbered(first: number, count: number): HistoryEvent[] {
  return Array.from({ length: count }, (_, i) => events.taskCompleted(first + i, `result ${first + i}`));
}

/** A record at `version` with a tail at `fromIndex`, created directly through successive compare-and-sets. */
async function createAt(store: Store, record: InstanceRecord): Promise<InstanceRecord> {
  assert.deepEqual(await store.compareAndSet({ ...record, version: 1 }, 0), { ok: true });
  let current: InstanceRecord = { ...record, version: 1 };
  while (current.version < record.version) {
    const next = nextRecord(current, {});
    assert.deepEqual(await store.compareAndSet(next, current.version), { ok: true });
    current = next;
  }
  return current;
}

const ids = (records: readonly InstanceRecord[]): string[] => records.map((r) => r.instanceId);

/** Asserts that `readHistory` no longer yields the given events (a store may also report the hole as an error). */
async function assertHistoryGone(store: Store, record: InstanceRecord, gone: HistoryEvent[]): Promise<void> {
  const history = await store.readHistory(record).catch(() => undefined);
  if (history === undefined) return; // the store reported the missing chunks: also fine
  for (const event of gone) assert.ok(!history.some((e) => JSON.stringify(e) === JSON.stringify(event)));
}

/**
 * Declares the store contract tests for one adapter.
 * @example
 * storeContract('MemoryStore', async () => ({ store: new MemoryStore() }));
 */
export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`${name} (store contract)`, () => {
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

    describe('compareAndSet', () => {
      it('returns undefined for an instance that was never created', async () => {
        assert.equal(await store.get(uniqueId('missing')), undefined);
      });

      it('creates a record with expectedVersion 0 and reads it back', async () => {
        const record = newRecord(uniqueId('create'));
        assert.deepEqual(await store.compareAndSet(record, 0), { ok: true });
        assert.deepEqual(await store.get(record.instanceId), record);
      });

      it('refuses to create a record that already exists, returning the existing one', async () => {
        const record = newRecord(uniqueId('exists'));
        await store.compareAndSet(record, 0);
        const second = await store.compareAndSet({ ...record, name: 'other' }, 0);
        assert.deepEqual(second, { ok: false, current: record });
        assert.equal((await store.get(record.instanceId))?.name, 'test');
      });

      it('commits successive versions, each expecting the previous one', async () => {
        const v1 = newRecord(uniqueId('versions'));
        await store.compareAndSet(v1, 0);
        const v2 = nextRecord(v1, { status: 'Suspended', updatedAt: T0 + 1 });
        assert.deepEqual(await store.compareAndSet(v2, 1), { ok: true });
        const v3 = nextRecord(v2, { status: 'Completed', output: 'done', updatedAt: T0 + 2 });
        assert.deepEqual(await store.compareAndSet(v3, 2), { ok: true });
        assert.deepEqual(await store.get(v1.instanceId), v3);
      });

      it('on a version conflict returns the current record and writes nothing', async () => {
        const v1 = newRecord(uniqueId('conflict'));
        await store.compareAndSet(v1, 0);
        const v2 = nextRecord(v1, { status: 'Completed' });
        await store.compareAndSet(v2, 1);
        // A second writer still holding version 1 tries to commit its own version 2.
        const stale = nextRecord(v1, { status: 'Failed' });
        assert.deepEqual(await store.compareAndSet(stale, 1), { ok: false, current: v2 });
        assert.deepEqual(await store.get(v1.instanceId), v2);
      });

      it('lets exactly one of two concurrent writers on the same version win', async () => {
        const v1 = newRecord(uniqueId('race'));
        await store.compareAndSet(v1, 0);
        const a = nextRecord(v1, { status: 'Completed' });
        const b = nextRecord(v1, { status: 'Failed' });
        const results = await Promise.all([store.compareAndSet(a, 1), store.compareAndSet(b, 1)]);
        assert.equal(results.filter((r) => r.ok).length, 1);
        const winner = results[0]?.ok === true ? a : b;
        assert.deepEqual(await store.get(v1.instanceId), winner);
      });

      it('lets exactly one of two concurrent creators win', async () => {
        const id = uniqueId('create-race');
        const a = newRecord(id, { name: 'a' });
        const b = newRecord(id, { name: 'b' });
        const results = await Promise.all([store.compareAndSet(a, 0), store.compareAndSet(b, 0)]);
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.equal((await store.get(id))?.name, results[0]?.ok === true ? 'a' : 'b');
      });

      it('rejects a record whose version is not expectedVersion + 1, and writes nothing', async () => {
        const v1 = newRecord(uniqueId('bad-version'));
        await assert.rejects(store.compareAndSet({ ...v1, version: 2 }, 0));
        assert.equal(await store.get(v1.instanceId), undefined);
        await store.compareAndSet(v1, 0);
        await assert.rejects(store.compareAndSet({ ...v1, version: 1, status: 'Completed' }, 1));
        assert.deepEqual(await store.get(v1.instanceId), v1);
      });

      it('stores values as JSON: undefined fields vanish and later mutation of either side changes nothing', async () => {
        const id = uniqueId('json');
        const input = { nested: { list: [1, 'two', null, { deep: true }] }, when: new Date(T0), gone: undefined };
        const record = newRecord(id, { input, customStatus: { step: 3 } });
        await store.compareAndSet(record, 0);
        input.nested.list.push(99); // the caller keeps mutating its object after the write
        const read = await store.get(id);
        assert.deepEqual(read?.input, {
          nested: { list: [1, 'two', null, { deep: true }] },
          when: new Date(T0).toISOString(),
        });
        assert.ok(read !== undefined && !('gone' in (read.input as object)));
        (read.customStatus as { step: number }).step = 4; // and mutates what it read
        assert.deepEqual((await store.get(id))?.customStatus, { step: 3 });
      });
    });

    describe('history', () => {
      it('reads the tail alone when there are no chunks yet', async () => {
        const record = newRecord(uniqueId('tail-only'));
        await store.compareAndSet(record, 0);
        assert.deepEqual(await store.readHistory(record), record.tail.events);
      });

      it('reads history as the chunks below the tail, in index order, followed by the tail', async () => {
        const id = uniqueId('history');
        const tail = chunk(id, 0, 5, numbered(5, 2));
        const record = await createAt(store, newRecord(id, { version: 3, tail }));
        // Written out of order on purpose: order comes from fromIndex, not from write order.
        await store.putHistoryChunk(chunk(id, 0, 2, numbered(2, 3)));
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2)));
        assert.deepEqual(await store.readHistory(record), numbered(0, 7));
      });

      it('writes the same chunk twice without duplicating its events', async () => {
        const id = uniqueId('idempotent');
        const record = await createAt(store, newRecord(id, { version: 2, tail: chunk(id, 0, 3, numbered(3, 1)) }));
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 3)));
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 3)));
        assert.deepEqual(await store.readHistory(record), numbered(0, 4));
      });

      it('ignores chunks at or above the tail, left by a turn that crashed before committing', async () => {
        const id = uniqueId('crashed');
        const record = await createAt(store, newRecord(id, { version: 2, tail: chunk(id, 0, 2, numbered(2, 2)) }));
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2)));
        await store.putHistoryChunk(chunk(id, 0, 2, numbered(2, 2))); // the tail, moved out by a turn that then died
        await store.putHistoryChunk(chunk(id, 0, 4, numbered(100, 3)));
        assert.deepEqual(await store.readHistory(record), numbered(0, 4));
      });

      it('does not mix history from an older generation into the current one', async () => {
        const id = uniqueId('generations');
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 3)));
        await store.putHistoryChunk(chunk(id, 1, 0, numbered(10, 2)));
        const record = await createAt(store, newRecord(id, { generation: 1, tail: chunk(id, 1, 2, numbered(12, 1)) }));
        assert.deepEqual(await store.readHistory(record), numbered(10, 3));
      });

      it('deletes the history of generations below the given one, and only those', async () => {
        const id = uniqueId('delete-history');
        const old = newRecord(id, { generation: 0, tail: chunk(id, 0, 2, numbered(2, 1)) });
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2)));
        await store.putHistoryChunk(chunk(id, 1, 0, numbered(10, 2)));
        await store.putHistoryChunk(chunk(id, 2, 0, numbered(20, 2)));
        const current = await createAt(store, newRecord(id, { generation: 2, tail: chunk(id, 2, 2, numbered(22, 1)) }));
        await store.deleteHistory(id, { generation: 2 });
        assert.deepEqual(await store.readHistory(current), numbered(20, 3));
        await assertHistoryGone(store, old, numbered(0, 2));
        await assertHistoryGone(store, { ...old, generation: 1, tail: chunk(id, 1, 2, []) }, numbered(10, 2));
      });
    });

    describe('list', () => {
      /** Creates records named `name`, one per spec, and returns them. */
      async function seed(
        name: string,
        specs: { readonly createdAt: number; readonly status?: RuntimeStatus; readonly suffix: string }[],
      ): Promise<InstanceRecord[]> {
        const records: InstanceRecord[] = [];
        for (const spec of specs) {
          const record = newRecord(`${name}-${spec.suffix}`, {
            name,
            createdAt: spec.createdAt,
            updatedAt: spec.createdAt,
            status: spec.status ?? 'Running',
          });
          await store.compareAndSet(record, 0);
          records.push(record);
        }
        return records;
      }

      it('lists records newest first, by createdAt and then by instanceId', async () => {
        const name = uniqueId('order');
        await seed(name, [
          { createdAt: T0 + 1, suffix: 'b' },
          { createdAt: T0 + 2, suffix: 'a' },
          { createdAt: T0 + 1, suffix: 'c' },
          { createdAt: T0, suffix: 'd' },
        ]);
        const page = await store.list({ name });
        assert.deepEqual(ids(page.items), [`${name}-a`, `${name}-c`, `${name}-b`, `${name}-d`]);
        assert.equal(page.nextCursor, undefined);
      });

      it('filters by status, by name, and by creation time (from inclusive, to exclusive)', async () => {
        const name = uniqueId('filter');
        await seed(name, [
          { createdAt: T0, status: 'Completed', suffix: 'a' },
          { createdAt: T0 + 10, status: 'Failed', suffix: 'b' },
          { createdAt: T0 + 20, status: 'Running', suffix: 'c' },
          { createdAt: T0 + 30, status: 'Completed', suffix: 'd' },
        ]);
        await seed(uniqueId('other-name'), [{ createdAt: T0 + 10, status: 'Completed', suffix: 'x' }]);
        const byStatus = await store.list({ name, statuses: ['Completed', 'Failed'] });
        assert.deepEqual(ids(byStatus.items), [`${name}-d`, `${name}-b`, `${name}-a`]);
        const byTime = await store.list({ name, createdFrom: T0 + 10, createdTo: T0 + 30 });
        assert.deepEqual(ids(byTime.items), [`${name}-c`, `${name}-b`]);
        const all = await store.list({ name, statuses: ['Completed'], createdFrom: T0, createdTo: T0 + 31 });
        assert.deepEqual(ids(all.items), [`${name}-d`, `${name}-a`]);
      });

      it('pages through 7 records with limit 3, returning every record exactly once', async () => {
        const name = uniqueId('paging');
        const created = await seed(
          name,
          // Some share a createdAt, so the cursor must also use the instanceId.
          [0, 1, 1, 1, 2, 3, 3].map((offset, i) => ({ createdAt: T0 + offset, suffix: `r${i}` })),
        );
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({ name, limit: 3, ...(cursor !== undefined ? { cursor } : {}) });
          assert.ok(page.items.length <= 3);
          seen.push(...ids(page.items));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined && pages < 10);
        assert.equal(cursor, undefined, 'paging must end');
        assert.deepEqual(seen, ids((await store.list({ name })).items));
        assert.deepEqual([...seen].sort(), ids(created).sort());
      });

      it('returns at most 50 records by default', async () => {
        const name = uniqueId('default-limit');
        await seed(
          name,
          Array.from({ length: 51 }, (_, i) => ({ createdAt: T0 + i, suffix: String(i).padStart(2, '0') })),
        );
        const page = await store.list({ name });
        assert.equal(page.items.length, 50);
        assert.notEqual(page.nextCursor, undefined);
      });

      it('serves a limit above 1000 instead of failing', async () => {
        const name = uniqueId('big-limit');
        const created = await seed(
          name,
          ['a', 'b', 'c', 'd', 'e'].map((suffix, i) => ({ createdAt: T0 - i, suffix })),
        );
        const page = await store.list({ name, limit: 5000 });
        assert.deepEqual(ids(page.items), ids(created));
      });

      /** Creates, under one name, orchestration records `o0…` and entity records `name@e0…`, interleaved in time. */
      async function seedKinds(name: string, count: number): Promise<{ orchestrations: string[]; entities: string[] }> {
        const orchestrations: string[] = [];
        const entities: string[] = [];
        for (let i = 0; i < count; i++) {
          const orchestration = newRecord(`${name}-o${i}`, { name, createdAt: T0 + 2 * i, updatedAt: T0 + 2 * i });
          const entityId = `${name}@e${i}`;
          const entity = newRecord(entityId, {
            name,
            kind: 'entity',
            createdAt: T0 + 2 * i + 1,
            updatedAt: T0 + 2 * i + 1,
            tail: { instanceId: entityId, generation: 0, fromIndex: 0, events: [] },
            entity: { ...EMPTY_ENTITY, exists: true, state: i, operations: 1 },
          });
          assert.deepEqual(await store.compareAndSet(orchestration, 0), { ok: true });
          assert.deepEqual(await store.compareAndSet(entity, 0), { ok: true });
          orchestrations.unshift(orchestration.instanceId);
          entities.unshift(entityId);
        }
        return { orchestrations, entities };
      }

      it('lists entity records only when asked for entities, and orchestrations by default or when asked', async () => {
        const name = uniqueId('kinds');
        const { orchestrations, entities } = await seedKinds(name, 3);
        assert.deepEqual(ids((await store.list({ name })).items), orchestrations);
        assert.deepEqual(ids((await store.list({ name, kind: 'orchestration' })).items), orchestrations);
        const listed = (await store.list({ name, kind: 'entity' })).items;
        assert.deepEqual(ids(listed), entities);
        assert.ok(listed.every((r) => r.kind === 'entity' && r.entity?.exists === true));
        assert.deepEqual(
          listed.map((r) => r.entity?.state),
          [2, 1, 0],
          'entity data is stored with the record',
        );
      });

      it('never mixes kinds while paging or filtering by status and creation time', async () => {
        const name = uniqueId('kinds-paging');
        const { orchestrations, entities } = await seedKinds(name, 5);
        for (const [kind, expected] of [
          ['orchestration', orchestrations],
          ['entity', entities],
        ] as const) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; pages < 10; pages++) {
            const page = await store.list({ name, kind, limit: 2, ...(cursor !== undefined ? { cursor } : {}) });
            seen.push(...ids(page.items));
            cursor = page.nextCursor;
            if (cursor === undefined) break;
          }
          assert.deepEqual(seen, expected, `paging ${kind}s`);
          const filtered = await store.list({
            name,
            kind,
            statuses: ['Running'],
            createdFrom: T0 + 2,
            createdTo: T0 + 6,
          });
          assert.deepEqual(ids(filtered.items), expected.slice(2, 4), `filtering ${kind}s`);
        }
      });

      it('rejects a malformed cursor with a ValidationError', async () => {
        for (const cursor of ['not a cursor!', '{"createdAt":"yesterday"}']) {
          await assert.rejects(store.list({ cursor }), (error: unknown) => {
            assert.ok(error instanceof ValidationError);
            assert.equal(error.code, 'VALIDATION');
            return true;
          });
        }
      });
    });

    describe('id prefix, stuck filter and counts', () => {
      const stuckNote = { name: 'NonDeterminismError', message: 'the code changed' };

      async function put(instanceId: string, overrides: Partial<InstanceRecord> = {}): Promise<InstanceRecord> {
        const record = newRecord(instanceId, overrides);
        assert.deepEqual(await store.compareAndSet(record, 0), { ok: true });
        return record;
      }

      it('lists only ids that start with the prefix, case-sensitively, punctuation taken literally', async () => {
        const name = uniqueId('prefix');
        await put(`${name}-a.1`, { name, createdAt: T0 + 1 });
        await put(`${name}-a.2`, { name, createdAt: T0 + 2 });
        await put(`${name}-aX2`, { name, createdAt: T0 + 3 });
        await put(`${name}-b.1`, { name, createdAt: T0 + 4 });
        const a = await store.list({ idPrefix: `${name}-a.` });
        assert.deepEqual(ids(a.items), [`${name}-a.2`, `${name}-a.1`]);
        assert.deepEqual(ids((await store.list({ idPrefix: `${name}-A` })).items), []);
        assert.deepEqual(ids((await store.list({ idPrefix: `${name}-a`, statuses: ['Running'] })).items), [
          `${name}-aX2`,
          `${name}-a.2`,
          `${name}-a.1`,
        ]);
        assert.deepEqual(
          ids((await store.list({ idPrefix: name, name, createdFrom: T0 + 2, createdTo: T0 + 4 })).items),
          [`${name}-aX2`, `${name}-a.2`],
        );
      });

      it('finds exactly the ids with a prefix that ends in the last characters an id may hold', async () => {
        const name = uniqueId('prefix-edge');
        const all = ['~', '~a', '~~', '}', 'z', 'z~', 'zz', '', '.'].map((suffix) => `${name}-k${suffix}`);
        for (const [i, id] of all.entries()) await put(id, { name, createdAt: T0 + i });
        for (const suffix of ['~', 'z', 'z~', '~~', '']) {
          const prefix = `${name}-k${suffix}`;
          const found = ids((await store.list({ idPrefix: prefix, limit: 100 })).items).sort();
          assert.deepEqual(found, all.filter((id) => id.startsWith(prefix)).sort(), prefix);
          assert.equal((await store.countByStatus({ idPrefix: prefix })).total, found.length, prefix);
        }
      });

      it('pages through the ids with a prefix, each exactly once', async () => {
        const name = uniqueId('prefix-paging');
        const expected: string[] = [];
        for (let i = 0; i < 7; i++) {
          await put(`${name}-in-${i}`, { name, createdAt: T0 + (i % 3) });
          await put(`${name}-out-${i}`, { name, createdAt: T0 + (i % 3) });
          expected.push(`${name}-in-${i}`);
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list({ idPrefix: `${name}-in-`, limit: 3, ...(cursor ? { cursor } : {}) });
          assert.ok(page.items.length <= 3);
          seen.push(...ids(page.items));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        assert.deepEqual([...seen].sort(), [...expected].sort());
      });

      it('lists only stuck records with stuck: true, only the others with stuck: false, and follows a cleared note', async () => {
        const name = uniqueId('stuck');
        const stuck = await put(`${name}-s`, { name, createdAt: T0 + 2, stuck: stuckNote });
        await put(`${name}-ok`, { name, createdAt: T0 + 1 });
        const later = await put(`${name}-later`, { name, createdAt: T0 });
        assert.deepEqual(ids((await store.list({ name, stuck: true })).items), [`${name}-s`]);
        assert.deepEqual(ids((await store.list({ name, stuck: false })).items), [`${name}-ok`, `${name}-later`]);
        // Getting stuck and getting unstuck are ordinary commits (the status unchanged).
        const { stuck: _note, ...unstuck } = nextRecord(stuck, {});
        assert.deepEqual(await store.compareAndSet(unstuck, stuck.version), { ok: true });
        assert.deepEqual(await store.compareAndSet(nextRecord(later, { stuck: stuckNote }), later.version), {
          ok: true,
        });
        assert.deepEqual(ids((await store.list({ name, stuck: true })).items), [`${name}-later`]);
        assert.deepEqual((await store.countByStatus({ name })).stuck, 1);
      });

      it('counts by status under the same filters as list, every status present', async () => {
        const name = uniqueId('counts');
        await put(`${name}-1`, { name, createdAt: T0, status: 'Completed' });
        await put(`${name}-2`, { name, createdAt: T0 + 10, status: 'Running', stuck: stuckNote });
        await put(`${name}-3`, { name, createdAt: T0 + 20, status: 'Running' });
        await put(`${name}-4`, { name, createdAt: T0 + 30, status: 'Failed' });
        await put(`${name}-x`, { name: `${name}-other`, createdAt: T0 + 10, status: 'Running' });
        const counts = await store.countByStatus({ name });
        assert.deepEqual(counts, {
          byStatus: {
            Pending: 0,
            Running: 2,
            Suspended: 0,
            Completed: 1,
            Failed: 1,
            Terminated: 0,
            ContinuedAsNew: 0,
          },
          stuck: 1,
          total: 4,
        });
        const inTime = await store.countByStatus({ name, createdFrom: T0 + 10, createdTo: T0 + 30 });
        assert.equal(inTime.total, 2);
        assert.equal(inTime.byStatus.Running, 2);
        const byPrefix = await store.countByStatus({ idPrefix: `${name}-` });
        assert.equal(byPrefix.total, 5, 'the prefix covers the other name too');
        assert.equal(byPrefix.byStatus.Running, 3);
        const onlyStuck = await store.countByStatus({ idPrefix: name, stuck: true });
        assert.equal(onlyStuck.total, 1);
        assert.equal(onlyStuck.stuck, 1);
        const none = await store.countByStatus({ idPrefix: uniqueId('nothing') });
        assert.equal(none.total, 0);
        assert.equal(Object.keys(none.byStatus).length, 7);
      });

      it('counts entities only when asked for them, and forgets purged records', async () => {
        const name = uniqueId('count-kinds');
        const entity = await put(`${name}@k`, { name, kind: 'entity', entity: EMPTY_ENTITY, status: 'Running' });
        const done = await put(`${name}-o`, { name, status: 'Completed' });
        assert.equal((await store.countByStatus({ idPrefix: name })).total, 1);
        assert.equal((await store.countByStatus({ idPrefix: name, kind: 'entity' })).total, 1);
        assert.ok(await store.purge(done.instanceId, done.version));
        assert.ok(await store.purge(entity.instanceId, entity.version));
        assert.equal((await store.countByStatus({ idPrefix: name })).total, 0);
        assert.equal((await store.countByStatus({ idPrefix: name, kind: 'entity' })).total, 0);
      });
    });

    describe('changeToken', () => {
      /** The token once it has stayed the same for a while (a feed-backed token may move once as its feed opens). */
      async function settled(read: () => Promise<string>): Promise<string> {
        let token = await read();
        for (let i = 0; i < 20; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          const again = await read();
          if (again === token && i >= 2) return token;
          token = again;
        }
        return token;
      }

      async function changedFrom(read: () => Promise<string>, before: string): Promise<boolean> {
        for (let i = 0; i < 50; i++) {
          if ((await read()) !== before) return true;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return false;
      }

      it('changes after a record is created, committed and purged', async function () {
        if (store.changeToken === undefined) this.skip();
        const read = (): Promise<string> => (store.changeToken as () => Promise<string>).call(store);
        const record = newRecord(uniqueId('token'));
        let before = await settled(read);
        await store.compareAndSet(record, 0);
        assert.ok(await changedFrom(read, before), 'a creation changes the token');
        before = await settled(read);
        const next = nextRecord(record, { status: 'Completed' });
        await store.compareAndSet(next, record.version);
        assert.ok(await changedFrom(read, before), 'a commit changes the token');
        before = await settled(read);
        assert.ok(await store.purge(next.instanceId, next.version));
        assert.ok(await changedFrom(read, before), 'a purge changes the token');
      });
    });

    describe('claims', () => {
      it('keeps a claim-check body until it is deleted, and overwrites it on a second put', async () => {
        const key = uniqueId('claim');
        const body = JSON.stringify({ payload: 'x'.repeat(200_000) });
        assert.equal(await store.getClaim(key), undefined);
        await store.putClaim(key, body);
        assert.equal(await store.getClaim(key), body);
        await store.putClaim(key, '{"second":true}');
        assert.equal(await store.getClaim(key), '{"second":true}');
        await store.deleteClaim(key);
        assert.equal(await store.getClaim(key), undefined);
        await store.deleteClaim(key); // idempotent
      });
    });

    describe('purge', () => {
      it('deletes the record and its history when the version matches', async () => {
        const id = uniqueId('purge');
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2)));
        const record = await createAt(store, newRecord(id, { version: 2, tail: chunk(id, 0, 2, numbered(2, 1)) }));
        assert.equal(await store.purge(id, 2), true);
        assert.equal(await store.get(id), undefined);
        await assertHistoryGone(store, record, numbered(0, 2));
        // The id can be used again from scratch.
        assert.deepEqual(await store.compareAndSet(newRecord(id), 0), { ok: true });
      });

      it('refuses to purge at the wrong version and keeps the record and its history', async () => {
        const id = uniqueId('purge-conflict');
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2)));
        const record = await createAt(store, newRecord(id, { version: 2, tail: chunk(id, 0, 2, numbered(2, 1)) }));
        assert.equal(await store.purge(id, 1), false);
        assert.deepEqual(await store.get(id), record);
        assert.deepEqual(await store.readHistory(record), numbered(0, 3));
      });

      it('returns false when purging an instance that does not exist', async () => {
        assert.equal(await store.purge(uniqueId('purge-missing'), 1), false);
      });

      // A store without multi-document transactions (RethinkDB) deletes the record and then the chunks, and can
      // crash in between; a stale worker can also write a chunk after the purge. Either way chunks of the purged
      // incarnation survive under the id. They must never be read as the history of the id's next creation.
      it('never reads chunks a purged incarnation left behind as the history of the next one', async () => {
        const id = uniqueId('purge-crash');
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2), 'first'));
        await createAt(
          store,
          newRecord(id, { incarnation: 'first', version: 2, tail: chunk(id, 0, 2, numbered(2, 1), 'first') }),
        );
        assert.equal(await store.purge(id, 2), true);
        // The state a crash between the two deletes leaves, or a stale worker archiving after the purge.
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(0, 2), 'first'));

        // The next creation has not archived its own first chunk yet: the old one must not fill the gap.
        const next = newRecord(id, { incarnation: 'second', tail: chunk(id, 0, 2, numbered(102, 1), 'second') });
        assert.deepEqual(await store.compareAndSet(next, 0), { ok: true });
        await assert.rejects(store.readHistory(next), /not contiguous/);
        await store.putHistoryChunk(chunk(id, 0, 0, numbered(100, 2), 'second'));
        assert.deepEqual(await store.readHistory(next), numbered(100, 3));

        // The leftovers are garbage that deleteHistory clears, keeping the current incarnation's chunks.
        await store.deleteHistory(id, next);
        assert.deepEqual(await store.readHistory(next), numbered(100, 3));
        await assertHistoryGone(store, { ...next, incarnation: 'first' }, numbered(0, 2));
      });
    });
  });
}
