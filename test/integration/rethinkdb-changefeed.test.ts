/**
 * `waitForCompletion` (and so the HTTP long-poll) on RethinkDB waits on a changefeed of the record instead of
 * polling it, and a feed lost to a server restart costs a fresh read, never a missed completion.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SystemClock } from '../../src/backends/clock.js';
import { MemoryQueue } from '../../src/backends/memory/memory-queue.js';
import { RethinkdbStore } from '../../src/backends/rethinkdb/rethinkdb-store.js';
import type { InstanceRecord, Store } from '../../src/backends/store.js';
import { nextRecord } from '../../src/backends/store.js';
import { DurableClient } from '../../src/client/client.js';
import { RethinkdbServer, requireRethinkdb } from '../fixtures/rethinkdb-server.js';
import { runningRecord } from '../helpers/records.js';

/** The store with its `get` calls counted: each is one read a polling wait would repeat. */
function countingGets(store: RethinkdbStore): { store: Store; gets: () => number } {
  let gets = 0;
  const counted = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key === 'get') {
        return (id: string) => {
          gets++;
          return target.get(id);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, gets: () => gets };
}

describe('waitForCompletion on RethinkDB', function () {
  this.timeout(90_000);
  requireRethinkdb();
  let server: RethinkdbServer | undefined;
  let store: RethinkdbStore | undefined;

  beforeEach(async () => {
    server = await RethinkdbServer.start();
    store = await RethinkdbStore.open({ ...server.address, db: `feed_${randomUUID().slice(0, 8)}`, timeoutMs: 2000 });
  });

  afterEach(async () => {
    await store?.close();
    await server?.stop();
  });

  it('wakes on the completing commit through a changefeed, reading the record a few times rather than polling', async () => {
    const s = store as RethinkdbStore;
    const id = `feed-${randomUUID()}`;
    const record = runningRecord(id);
    assert.deepEqual(await s.compareAndSet(record, 0), { ok: true });
    const { store: counted, gets } = countingGets(s);
    const client = new DurableClient({
      store: counted,
      queue: new MemoryQueue({ clock: new SystemClock() }),
      clock: new SystemClock(),
    });

    const waiting = client.waitForCompletion(id, { timeoutMs: 30_000 });
    // Two uneventful commits, then the completion, over about 1.5 s: a poll every 50 ms would read ~30 times.
    for (const status of ['Running', 'Running', 'Completed'] as const) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const current = (await s.get(id)) as InstanceRecord;
      const next = nextRecord(current, { status, ...(status === 'Completed' ? { output: 'done' } : {}) });
      assert.deepEqual(await s.compareAndSet(next, current.version), { ok: true });
    }
    const done = await waiting;
    assert.equal(done.status, 'Completed');
    assert.equal(done.output, 'done');
    // One read to start, one after each of the three commits.
    assert.ok(gets() <= 4, `the wait read the record ${gets()} times`);
  });

  it('still sees a completion committed after the server was killed and restarted under the waiting feed', async () => {
    const s = store as RethinkdbStore;
    const rethinkdb = server as RethinkdbServer;
    const id = `feed-${randomUUID()}`;
    const record = runningRecord(id);
    assert.deepEqual(await s.compareAndSet(record, 0), { ok: true });
    const client = new DurableClient({
      store: s,
      queue: new MemoryQueue({ clock: new SystemClock() }),
      clock: new SystemClock(),
    });
    const waiting = client.waitForCompletion(id, { timeoutMs: 60_000 });
    let settled = false;
    void waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    await rethinkdb.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(settled, false, 'the wait ended while the server was down');
    await rethinkdb.restart();
    // Commit the completion once the store answers again (its reconnection backs off).
    for (;;) {
      try {
        const current = (await s.get(id)) as InstanceRecord;
        assert.deepEqual(await s.compareAndSet(nextRecord(current, { status: 'Completed', output: 7 }), 1), {
          ok: true,
        });
        break;
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const done = await waiting;
    assert.equal(done.status, 'Completed');
    assert.equal(done.output, 7);
  });
});
