import assert from 'node:assert/strict';
import { defineApp, TestEnvironment } from '../../src/index.js';

const app = defineApp({
  orchestrations: {
    async child(_ctx, n: number) {
      return Promise.resolve(n * 10);
    },
    /** A monitor: each generation calls a child (default id), then continues as new until the last one. */
    async monitor(ctx, input: { gen: number; total: number }) {
      const sum = input.total + Number(await ctx.callSubOrchestration('child', input.gen));
      if (input.gen < 2) ctx.continueAsNew({ gen: input.gen + 1, total: sum });
      return sum;
    },
    async parent(ctx, n: number) {
      return ctx.callSubOrchestration('child', n);
    },
  },
});

describe('Sub-orchestrations with default instance ids', () => {
  let env: TestEnvironment;
  afterEach(async () => {
    await env.close();
  });

  it('completes an orchestration that calls a child and then continues as new twice', async () => {
    env = TestEnvironment.start(app);
    await env.client.start('monitor', { gen: 0, total: 0 }, { instanceId: 'monitor' });
    const done = await env.waitForCompletion('monitor');
    assert.equal(done.status, 'Completed', JSON.stringify(done.error));
    assert.equal(done.output, 0 + 10 + 20);
    assert.equal(done.generation, 2);
  });

  it('completes a finished parent restarted with the same instance id, with a new child', async () => {
    env = TestEnvironment.start(app);
    await env.client.start('parent', 1, { instanceId: 'restarted' });
    assert.equal((await env.waitForCompletion('restarted')).output, 10);
    await env.client.start('parent', 2, { instanceId: 'restarted' });
    const again = await env.waitForCompletion('restarted');
    assert.equal(again.status, 'Completed', JSON.stringify(again.error));
    assert.equal(again.output, 20);
  });
});
