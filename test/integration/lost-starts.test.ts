/**
 * A client that dies after creating an instance's record and before sending its start message leaves a Pending
 * record that nothing would start. Workers sweep for such records and send their start again.
 */
import assert from 'node:assert/strict';
import { defineApp, DurableClient, TestEnvironment } from '../../src/index.js';
import { ManualClock } from '../../src/backends/clock.js';
import { MemoryLock } from '../../src/backends/memory/memory-lock.js';
import { MemoryQueue } from '../../src/backends/memory/memory-queue.js';
import { MemoryStore } from '../../src/backends/memory/memory-store.js';
import { nextRecord } from '../../src/backends/store.js';
import { silentLogger } from '../../src/observability/logger.js';
import { sweepOnce } from '../../src/runtime/pending-sweeper.js';
import { Failpoints } from '../helpers/failpoints.js';

const app = defineApp({
  orchestrations: {
    async greet(_ctx, name: string) {
      return `hello ${name}`;
    },
  },
});

describe('lost starts', () => {
  it('starts an instance whose client died between creating its record and sending its start', async () => {
    const env = TestEnvironment.start(app, { worker: { turnTimeoutMs: 10_000 } });
    try {
      // The client's first queue call (the start's send) fails: the record exists, the message was never sent.
      const failpoints = new Failpoints().failAt(1, 'before');
      const dying = new DurableClient({
        store: env.store,
        queue: failpoints.wrap('queue', env.queue),
        clock: env.clock,
      });
      await assert.rejects(dying.start('greet', 'lost', { instanceId: 'lost-start' }), /injected failure/);
      await env.settle();
      assert.equal((await env.client.getStatus('lost-start'))?.status, 'Pending', 'nothing started it yet');

      await env.advance(200_000); // older than ten turn timeouts, and one sweep interval later
      const done = await env.waitForCompletion('lost-start');
      assert.equal(done.status, 'Completed');
      assert.equal(done.output, 'hello lost');
    } finally {
      await env.close();
    }
  });

  it('leaves a Pending instance whose start is only on its way alone, apart from a duplicate it drops', async () => {
    const env = TestEnvironment.start(app);
    try {
      const id = await env.client.start('greet', 'on time');
      await env.advance(300_000);
      const done = await env.waitForCompletion(id);
      assert.equal(done.output, 'hello on time');
      assert.equal(done.generation, 0, 'one execution, not a second start');
    } finally {
      await env.close();
    }
  });

  it('leaves alone a Pending record whose start was dead-lettered, and young ones, sending only lost starts', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const store = new MemoryStore();
    const queue = new MemoryQueue({ clock });
    const creator = new DurableClient({
      store,
      queue: new Failpoints().failOn('queue.send', 1, 'before').wrap('q', queue),
      clock,
    });
    for (const id of ['lost', 'poisoned']) {
      await creator.start('greet', id, { instanceId: id }).catch(() => undefined);
    }
    const poisoned = await store.get('poisoned');
    assert.ok(poisoned);
    await store.compareAndSet(
      nextRecord(poisoned, { stuck: { name: 'PoisonMessage', message: 'dead-lettered' } }),
      poisoned.version,
    );
    const sweep = {
      store,
      queue,
      lock: new MemoryLock({ clock }),
      clock,
      logger: silentLogger,
      owner: 'w',
      ageMs: 60_000,
    };
    assert.equal(await sweepOnce(sweep), 0, 'nothing is old enough yet');
    clock.advance(60_001);
    assert.equal(await sweepOnce({ ...sweep, owner: 'w2' }), 1);
    const [start] = await queue.receive('orchestrations', 10, { visibilityTimeoutMs: 1000 });
    assert.equal(start?.message.instanceId, 'lost');
  });
});
