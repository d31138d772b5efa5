/**
 * Every backend call can fail. These tests run a small workload of every kind of turn (activities in a fan-out, a
 * timer, an event, an entity called and signalled, a sub-orchestration) and fail one backend call at a time, each
 * call of a clean run in turn, both before it takes effect and after. Whatever fails, every instance must end
 * with the right output and the entity must have applied each operation exactly once: nothing is lost.
 */
import assert from 'node:assert/strict';
import type { EntityContext } from '../../src/index.js';
import { defineApp, TestEnvironment } from '../../src/index.js';
import { countingLogger } from '../../src/host/counting-logger.js';
import { createWorkerMetrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { FailMode } from '../helpers/failpoints.js';
import { Failpoints } from '../helpers/failpoints.js';

const calls = new Map<string, number>();

const app = defineApp({
  activities: {
    async double(n: number, actx) {
      calls.set(actx.idempotencyKey, (calls.get(actx.idempotencyKey) ?? 0) + 1);
      return n * 2;
    },
  },
  entities: {
    counter: {
      initial: () => 0,
      add: (ctx: EntityContext<number>, n: number) => {
        ctx.setState(ctx.state + n);
        return ctx.state;
      },
      get: (ctx: EntityContext<number>) => ctx.state,
    },
  },
  orchestrations: {
    async child(ctx, n: number) {
      return (await ctx.callActivity('double', n)) + 1;
    },
    async workload(ctx, n: number) {
      const doubled = await Promise.all([1, 2, 3].map((i) => ctx.callActivity('double', n * 10 + i)));
      await ctx.createTimer(1000);
      const bonus = await ctx.waitForEvent<number>('bonus');
      ctx.signalEntity(`counter@${n}`, 'add', 1);
      const total = await ctx.callEntity<number>(`counter@${n}`, 'add', 2);
      const child = await ctx.callSubOrchestration('child', n);
      return { doubled, bonus, total, child };
    },
  },
});

interface Outcome {
  readonly calls: number;
  readonly failed: string[];
}

/** Runs the workload for instances 1 and 2 with `failpoints` around the worker's backends; checks every outcome. */
async function runWorkload(failpoints: Failpoints): Promise<Outcome> {
  calls.clear();
  const env = TestEnvironment.start(app, { startWorker: false });
  env.startWorker({
    store: failpoints.wrap('store', env.store),
    queue: failpoints.wrap('queue', env.queue),
    lock: failpoints.wrap('lock', env.lock),
  });
  try {
    for (const n of [1, 2]) {
      const id = await env.client.start('workload', n, { instanceId: `w${n}` });
      await env.client.raiseEvent(id, 'bonus', n * 100);
    }
    for (const n of [1, 2]) {
      const done = await env.waitForCompletion(`w${n}`, { timeoutMs: 3_600_000 });
      assert.equal(done.status, 'Completed', `w${n}: ${JSON.stringify(done.error)}`);
      assert.deepEqual(done.output, {
        doubled: [1, 2, 3].map((i) => (n * 10 + i) * 2),
        bonus: n * 100,
        total: 3,
        child: n * 2 + 1,
      });
      assert.equal((await env.client.readEntityState(`counter@${n}`))?.state, 3, 'each entity operation once');
    }
    assert.equal(calls.size, 8, 'every activity call ran');
    return { calls: failpoints.calls.length, failed: failpoints.failed };
  } finally {
    await env.close();
  }
}

describe('backend failures, one call at a time', function () {
  this.timeout(300_000);

  it('completes the workload with every outcome exact when no call fails, which is the baseline', async () => {
    const clean = await runWorkload(new Failpoints());
    assert.ok(clean.calls > 20, `the workload made ${clean.calls} backend calls`);
    assert.equal(
      [...calls.values()].every((c) => c === 1),
      true,
      'with no failure every call runs once',
    );
  });

  for (const mode of ['before', 'after'] as FailMode[]) {
    it(`loses nothing when any one store, queue or lock call fails ${mode} taking effect`, async () => {
      const { calls: total } = await runWorkload(new Failpoints());
      const methods = new Set<string>();
      for (let n = 1; n <= total; n++) {
        const failpoints = new Failpoints().failAt(n, mode);
        try {
          const outcome = await runWorkload(failpoints);
          for (const call of outcome.failed) methods.add(call);
        } catch (error) {
          throw new Error(`failing call ${n} (${failpoints.failed.join(', ') || 'none'}) ${mode}: ${String(error)}`);
        }
      }
      // The sweep reached every kind of call the runtime makes, not just a few.
      for (const method of ['store.getMany', 'store.commitMany', 'queue.send', 'queue.settle', 'lock.acquire'])
        assert.ok(methods.has(method), `${method} was failed at least once (${[...methods].join(', ')})`);
    });
  }

  it('logs and counts a failed batch and gives its messages back with a back-off that grows, loop intact', async () => {
    const metrics = createWorkerMetrics({ processMetrics: false });
    const env = TestEnvironment.start(app, { startWorker: false });
    // The lock refuses acquires until told otherwise, like an API server answering 429.
    let refusing = true;
    const lock = new Proxy(env.lock, {
      get: (target, property, receiver) =>
        property === 'acquire'
          ? (...args: Parameters<typeof target.acquire>) =>
              refusing ? Promise.reject(new Error('429 Too Many Requests')) : target.acquire(...args)
          : (Reflect.get(target, property, receiver) as unknown),
    });
    env.startWorker({ lock, logger: countingLogger(silentLogger, metrics) });
    try {
      const id = await env.client.start('child', 5);
      const delays: number[] = [];
      for (let failure = 0; failure < 3; failure++) {
        await env.settle();
        const next = await env.queue.nextVisibleAt('orchestrations');
        assert.ok(next !== undefined, 'the message went back to the queue');
        delays.push(next - env.clock.now());
        if (failure === 2) refusing = false;
        env.clock.advanceTo(next);
      }
      assert.deepEqual(delays, [100, 200, 400], 'three batches failed, each backing off twice as long');
      const done = await env.waitForCompletion(id);
      assert.equal(done.output, 11, 'the loop went on once the lock answered');
      const failures = await metrics.turnFailures.get();
      assert.equal(failures.values.find((v) => v.labels.reason === 'backend')?.value, 3);
    } finally {
      await env.close();
    }
  });
});
