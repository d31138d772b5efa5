import assert from 'node:assert/strict';
import { defineApp, TestEnvironment } from '../../src/index.js';

/** Every run of `work`, by its idempotency key: with no crash, each call must run exactly once. */
const runs = new Map<string, number>();

const app = defineApp({
  activities: {
    async work(n: number, actx) {
      runs.set(actx.idempotencyKey, (runs.get(actx.idempotencyKey) ?? 0) + 1);
      // Finish on a later tick, so results of one fan-out reach the instance in several batches and workers.
      await new Promise((resolve) => setImmediate(resolve));
      return n * 2;
    },
  },
  orchestrations: {
    async fanOut(ctx, width: number) {
      const results = await Promise.all(Array.from({ length: width }, (_, i) => ctx.callActivity('work', i)));
      return results.reduce((a, b) => a + b, 0);
    },
  },
});

describe('exactly once with several workers and no crash', function () {
  this.timeout(60_000);
  beforeEach(() => runs.clear());

  it('runs each of 1,000 activity calls once when three workers share the memory backends', async () => {
    const env = TestEnvironment.start(app, { worker: { batchSize: 7 } });
    env.startWorker();
    env.startWorker();
    try {
      const ids = await Promise.all(Array.from({ length: 50 }, () => env.client.start('fanOut', 20)));
      for (const id of ids) {
        const done = await env.waitForCompletion(id);
        assert.equal(done.status, 'Completed', JSON.stringify(done.error));
        assert.equal(done.output, 380);
      }
      assert.equal(runs.size, 1000);
      const repeated = [...runs].filter(([, count]) => count > 1);
      assert.deepEqual(repeated, [], `${repeated.length} calls ran more than once`);
    } finally {
      await env.close();
    }
  });
});
