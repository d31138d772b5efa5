/**
 * A client that dies after creating an instance's record and before sending its start message leaves a Pending
 * record that nothing would start. Workers sweep for such records and send their start again.
 */
import assert from 'node:assert/strict';
import { defineApp, DurableClient, TestEnvironment } from '../../src/index.js';
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

      await env.advance(20_000); // older than the turn timeout, and one sweep interval later
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
      await env.advance(30_000);
      const done = await env.waitForCompletion(id);
      assert.equal(done.output, 'hello on time');
      assert.equal(done.generation, 0, 'one execution, not a second start');
    } finally {
      await env.close();
    }
  });
});
