/**
 * Events across continue-as-new: raised in order, consumed in order, whatever generation they land in; and an event
 * id raised twice is delivered once even when the two copies straddle a continue-as-new.
 */
import assert from 'node:assert/strict';
import { defineApp, EventTimeoutError, TestEnvironment } from '../../src/index.js';

const app = defineApp({
  orchestrations: {
    /** One event per generation: every event arrives while some generation is ending or starting. */
    async collector(ctx, got: number[]) {
      const value = await ctx.waitForEvent<number>('e');
      const next = [...got, value];
      if (next.length === 10) return next;
      return ctx.continueAsNew(next, { keepUnprocessedEvents: true });
    },
    /** Takes one event, continues as new once, then reports whatever a second wait receives. */
    async once(ctx, generation: number) {
      if (generation === 0) {
        await ctx.waitForEvent('e');
        return ctx.continueAsNew(1);
      }
      try {
        return { again: await ctx.waitForEvent('e', { timeout: 60_000 }) };
      } catch (error) {
        if (error instanceof EventTimeoutError) return { again: 'nothing' };
        throw error;
      }
    },
  },
});

describe('events and continue-as-new', function () {
  this.timeout(30_000);

  it('consumes ten events in the order they were raised while the instance continues as new between them', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const env = TestEnvironment.start(app, { worker: { batchSize: 3 } });
      env.startWorker({ batchSize: 2 });
      try {
        const id = await env.client.start('collector', []);
        for (let i = 1; i <= 10; i++) await env.client.raiseEvent(id, 'e', i);
        const done = await env.waitForCompletion(id);
        assert.equal(done.status, 'Completed', JSON.stringify(done.error));
        assert.deepEqual(done.output, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `trial ${trial}`);
      } finally {
        await env.close();
      }
    }
  });

  it('delivers an event id once even when its two copies arrive before and after a continue-as-new', async () => {
    const env = TestEnvironment.start(app);
    try {
      const id = await env.client.start('once', 0);
      await env.client.raiseEvent(id, 'e', 'first', { eventId: 'webhook-1' });
      await env.settle();
      assert.equal((await env.client.getStatus(id))?.generation, 1, 'it continued as new');
      await env.client.raiseEvent(id, 'e', 'retried webhook', { eventId: 'webhook-1' });
      const done = await env.waitForCompletion(id);
      assert.deepEqual(done.output, { again: 'nothing' });
    } finally {
      await env.close();
    }
  });
});
