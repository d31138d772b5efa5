/**
 * Runs the backend contract suites against the in-memory adapters, plus the memory store's own checks.
 */
import assert from 'node:assert/strict';
import { MemoryLock } from '../../src/backends/memory/memory-lock.js';
import { MemoryQueue } from '../../src/backends/memory/memory-queue.js';
import { MemoryStore } from '../../src/backends/memory/memory-store.js';
import { events } from '../../src/engine/history.js';
import { lockContract } from './lock.contract.js';
import { queueBatchContract } from './queue-batch.contract.js';
import { queueContract } from './queue.contract.js';
import { queueReclaimContract } from './queue-reclaim.contract.js';
import { storeBatchContract } from './store-batch.contract.js';
import { storeContract } from './store.contract.js';

storeContract('MemoryStore', () => Promise.resolve({ store: new MemoryStore() }));
queueContract('MemoryQueue', (clock) => Promise.resolve({ queue: new MemoryQueue({ clock }) }));
lockContract('MemoryLock', (clock) => Promise.resolve({ lock: new MemoryLock({ clock }) }));
storeBatchContract('MemoryStore', () => Promise.resolve({ store: new MemoryStore() }));
queueBatchContract('MemoryQueue', (clock) => Promise.resolve({ queue: new MemoryQueue({ clock }) }));
queueReclaimContract('MemoryQueue', (clock) => Promise.resolve({ queue: new MemoryQueue({ clock }) }));

describe('MemoryStore (beyond the contract)', () => {
  const started = events.executionStarted({ name: 'test', input: null, generation: 0 });

  it('refuses to read a history with a missing chunk, naming the instance', async () => {
    const store = new MemoryStore();
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
  });

  it('refuses a record whose tail belongs to another instance', async () => {
    const store = new MemoryStore();
    const record = {
      instanceId: 'mine',
      version: 1,
      name: 'test',
      generation: 0,
      status: 'Running' as const,
      createdAt: 0,
      updatedAt: 0,
      historyLength: 1,
      tail: { instanceId: 'theirs', generation: 0, fromIndex: 0, events: [started] },
      outbox: [],
    };
    await assert.rejects(store.compareAndSet(record, 0), /tail belongs to instance theirs/);
    assert.equal(await store.get('mine'), undefined);
  });
});
