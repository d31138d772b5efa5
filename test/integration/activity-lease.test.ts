/**
 * A running activity's reservation is a lease the worker renews (heartbeat): an activity may run far longer than
 * the lease without being delivered to anyone else, in real time on the memory backend.
 */
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import { defineApp } from '../../src/index.js';

describe('activity leases', function () {
  this.timeout(20_000);
  let host: Host | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  it('runs an activity four times longer than its lease exactly once, renewing the lease while it runs', async () => {
    let runs = 0;
    const app = defineApp({
      activities: {
        async slow(ms: number) {
          runs++;
          await new Promise((resolve) => setTimeout(resolve, ms));
          return ms;
        },
      },
      orchestrations: {
        async patient(ctx, ms: number) {
          return ctx.callActivity('slow', ms);
        },
      },
    });
    host = await startHost({
      app,
      config: loadConfig({ DURABLE_BACKEND: 'memory', DURABLE_ACTIVITY_LEASE_MS: '300' }),
      worker: { pollMs: 20 },
    });
    const id = await host.client.start('patient', 1200);
    const done = await host.client.waitForCompletion(id, { timeoutMs: 10_000 });
    assert.equal(done.output, 1200);
    assert.equal(runs, 1, 'the activity was delivered again while it was still running');
  });
});
