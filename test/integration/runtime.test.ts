import assert from 'node:assert/strict';
import type { InstanceRecord, Message, Queue, Store } from '../../src/index.js';
import type { TurnCommit } from '../../src/backends/store.js';
import { TAIL_LIMIT } from '../../src/runtime/orchestration-turn.js';
import { defineApp, TestEnvironment } from '../../src/index.js';
import { messageId } from '../../src/engine/messages.js';
import { until } from '../helpers/until.js';

/** A promise with its resolver, for activities that block until the test lets them go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const running = { now: 0, max: 0 };
const blockers: Array<() => void> = [];
let hangs = 0;
let runs: string[] = [];

const activities = {
  async echo(value: string) {
    runs.push(value);
    return value;
  },
  async slow(value: number) {
    running.now++;
    running.max = Math.max(running.max, running.now);
    const g = gate();
    blockers.push(g.open);
    await g.promise;
    running.now--;
    return value * 2;
  },
  /** Hangs (like a worker that died mid-activity) for its first `hangs` deliveries. */
  async flaky(value: string) {
    if (hangs > 0) {
      hangs--;
      const g = gate();
      blockers.push(g.open);
      await g.promise;
      return `late ${value}`;
    }
    return `on time ${value}`;
  },
};

const app = defineApp({
  activities,
  orchestrations: {
    async sumEvents(ctx, count: number) {
      let total = 0;
      for (let i = 0; i < count; i++) total += await ctx.waitForEvent<number>('add');
      return total;
    },
    async echoThenWait(ctx, value: string) {
      const echoed = await ctx.callActivity('echo', value);
      const suffix = await ctx.waitForEvent<string>('go');
      return `${echoed}${suffix}`;
    },
    async fanOut(ctx, n: number) {
      const results = await Promise.all(Array.from({ length: n }, (_, i) => ctx.callActivity('slow', i)));
      return results.reduce((a, b) => a + b, 0);
    },
    async longChain(ctx, n: number) {
      for (let i = 0; i < n; i++) await ctx.callActivity('echo', `step ${i}`);
      return n;
    },
    async callFlaky(ctx, value: string) {
      try {
        return await ctx.callActivity('flaky', value);
      } catch (error) {
        return `failed: ${(error as { failure?: { name: string } }).failure?.name}`;
      }
    },
  },
});

function releaseAll(): void {
  for (const open of blockers.splice(0)) open();
}

describe('Worker runtime', () => {
  let env: TestEnvironment;
  beforeEach(() => {
    running.now = 0;
    running.max = 0;
    hangs = 0;
    runs = [];
  });
  afterEach(async () => {
    releaseAll();
    await env.close();
  });

  it('rejects the commit of a worker whose lock expired, so no event is applied twice', async () => {
    env = TestEnvironment.start(app, { startWorker: false, worker: { turnTimeoutMs: 10_000 } });
    let paused: ReturnType<typeof gate> | undefined;
    let pausedAt: (() => void) | undefined;
    const casResults: boolean[] = [];
    const pausingStore = new Proxy(env.store, {
      get(target, prop, receiver) {
        if (prop === 'compareAndSet') {
          return async (next: InstanceRecord, expected: number) => {
            if (paused) {
              const g = paused;
              paused = undefined;
              pausedAt?.();
              await g.promise;
              const result = await target.compareAndSet(next, expected);
              casResults.push(result.ok);
              return result;
            }
            return target.compareAndSet(next, expected);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Store;
    const slowWorker = env.startWorker({ store: pausingStore });
    await env.client.start('sumEvents', 2, { instanceId: 'sum' });
    await env.settle();

    paused = gate();
    const release = paused.open;
    const reachedCas = new Promise<void>((resolve) => (pausedAt = resolve));
    await env.client.raiseEvent('sum', 'add', 1);
    await reachedCas; // the slow worker has applied "add 1" and is about to commit

    env.clock.advance(11_000); // its lock and its reservation expire
    const fastWorker = env.startWorker();
    await env.client.raiseEvent('sum', 'add', 2);
    await until(async () => (await env.client.getStatus('sum'))?.status === 'Completed', 'the fast worker completes');

    release(); // the slow worker wakes up and tries to commit over a newer version
    await until(() => casResults.length === 1, 'the slow worker tries to commit');
    assert.deepEqual(casResults, [false], 'the stale commit must fail');
    await env.stopWorker(slowWorker);
    await env.stopWorker(fastWorker);

    const done = await env.client.getStatus('sum');
    assert.equal(done?.output, 3);
    const raised = (await env.client.getHistory('sum')).filter((e) => e.type === 'EventRaised');
    assert.equal(raised.length, 2);
  });

  it('re-sends the outbox when a worker crashed between commit and send', async () => {
    env = TestEnvironment.start(app, { startWorker: false, worker: { turnTimeoutMs: 10_000 } });
    let failNextActivitySend = true;
    const crashingQueue = new Proxy(env.queue, {
      get(target, prop, receiver) {
        if (prop === 'send') {
          return async (messages: readonly Message[]) => {
            if (failNextActivitySend && messages.some((m) => m.queue === 'activities')) {
              failNextActivitySend = false;
              throw new Error('connection reset (simulated crash after commit)');
            }
            return target.send(messages);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Queue;
    env.startWorker({ queue: crashingQueue });
    await env.client.start('echoThenWait', 'x', { instanceId: 'outbox' });
    await env.settle();
    assert.equal(runs.length, 0, 'the activity request was lost with the crash');
    const committed = await env.store.get('outbox');
    assert.equal(committed?.outbox[0]?.queue, 'activities', 'but the commit holds it in the outbox');

    await env.advance(11_000); // the start message's reservation expires; a worker reloads and re-sends
    assert.deepEqual(runs, ['x']);
    await env.client.raiseEvent('outbox', 'go', '!');
    const done = await env.waitForCompletion('outbox');
    assert.equal(done.output, 'x!');
    const scheduled = (await env.client.getHistory('outbox')).filter((e) => e.type === 'TaskScheduled');
    assert.equal(scheduled.length, 1);
  });

  it('runs activities concurrently, never more than the limit', async () => {
    env = TestEnvironment.start(app, { worker: { activityConcurrency: 3 } });
    await env.client.start('fanOut', 10, { instanceId: 'fan' });
    await until(() => running.now === 3, 'three activities run');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(running.now, 3, 'a fourth must wait for a free slot');
    while ((await env.client.getStatus('fan'))?.status !== 'Completed') {
      releaseAll();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.equal(running.max, 3);
    assert.equal((await env.client.getStatus('fan'))?.output, 90);
  });

  it('runs an activity again when its worker died before acknowledging it, and applies one result', async () => {
    env = TestEnvironment.start(app, { worker: { activityTimeoutMs: 30_000 } });
    hangs = 1;
    await env.client.start('callFlaky', 'v', { instanceId: 'redeliver' });
    await until(() => blockers.length === 1, 'the first delivery hangs');
    env.clock.advance(31_000); // its reservation expires: delivered again
    await until(async () => (await env.client.getStatus('redeliver'))?.status === 'Completed', 'completion');
    assert.equal((await env.client.getStatus('redeliver'))?.output, 'on time v');

    releaseAll(); // the "dead" worker finally answers: a duplicate, dropped
    await env.settle();
    const history = await env.client.getHistory('redeliver');
    assert.equal(history.filter((e) => e.type === 'TaskCompleted').length, 1);
    assert.equal((await env.client.getStatus('redeliver'))?.output, 'on time v');
  });

  it('dead-letters an activity that keeps killing its worker and fails the call instead of looping', async () => {
    env = TestEnvironment.start(app, { worker: { activityTimeoutMs: 30_000, maxDeliveries: 2 } });
    hangs = 99;
    await env.client.start('callFlaky', 'v', { instanceId: 'poison' });
    await until(() => blockers.length === 1, 'first delivery');
    env.clock.advance(31_000);
    await until(() => blockers.length === 2, 'second delivery');
    env.clock.advance(31_000);
    await until(async () => (await env.client.getStatus('poison'))?.status === 'Completed', 'completion');
    assert.equal((await env.client.getStatus('poison'))?.output, 'failed: PoisonMessage');
    const dead = await env.queue.deadLetters('activities');
    assert.equal(dead.length, 1);
    assert.match(dead[0]?.reason ?? '', /Delivered 3 times/);
  });

  it('keeps a nondeterministic instance waiting, visibly, until matching code is deployed', async () => {
    const v1 = app;
    const v2 = defineApp({
      activities,
      orchestrations: {
        ...app.orchestrations,
        async echoThenWait(ctx, value: string) {
          await ctx.createTimer(1000); // the code changed shape under a running instance
          return value;
        },
      },
    });
    env = TestEnvironment.start(v1, { startWorker: false });
    const w1 = env.startWorker({ app: v1 });
    await env.client.start('echoThenWait', 'a', { instanceId: 'nd' });
    await env.settle();
    await env.stopWorker(w1);

    const w2 = env.startWorker({ app: v2 });
    await env.client.raiseEvent('nd', 'go', '!');
    await env.settle();
    const stuck = await env.client.getStatus('nd');
    assert.equal(stuck?.status, 'Running');
    assert.equal(stuck?.stuck?.code, 'NON_DETERMINISM');
    assert.match(stuck?.stuck?.message ?? '', /sequence 0/);
    assert.equal((await env.client.getHistory('nd')).length, 3, 'nothing was committed');
    await env.stopWorker(w2);

    env.startWorker({ app: v1 });
    const done = await env.waitForCompletion('nd');
    assert.equal(done.output, 'a!');
    assert.equal(done.stuck, undefined);
  });

  it('drops a duplicate activity result without changing the instance', async () => {
    env = TestEnvironment.start(app);
    await env.client.start('echoThenWait', 'real', { instanceId: 'dup' });
    await env.settle();
    const before = await env.store.get('dup');
    await env.queue.send([
      {
        id: messageId('dup', 0, 'activity-result', 0),
        queue: 'orchestrations',
        instanceId: 'dup',
        body: { type: 'TaskCompleted', generation: 0, seq: 0, result: 'forged' },
      },
    ]);
    await env.settle();
    assert.equal((await env.store.get('dup'))?.version, before?.version, 'no commit happened');
    await env.client.raiseEvent('dup', 'go', '');
    assert.equal((await env.waitForCompletion('dup')).output, 'real');
  });

  it('keeps the cost of a turn bounded as history grows: a commit carries at most a tail of recent events', async () => {
    env = TestEnvironment.start(app, { startWorker: false });
    const commitSizes: number[] = [];
    const measuringStore = new Proxy(env.store, {
      get(target, prop, receiver) {
        if (prop === 'commitMany') {
          return (commits: TurnCommit[]) => {
            for (const c of commits) commitSizes.push(JSON.stringify(c).length);
            return target.commitMany(commits);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Store;
    env.startWorker({ store: measuringStore });
    // 300 steps, 602 events: the tail (at most 64 events) is archived and started again about ten times.
    await env.client.start('longChain', 300, { instanceId: 'long' });
    const done = await env.waitForCompletion('long');
    assert.equal(done.output, 300);
    assert.equal(done.historyLength, 2 + 300 * 2);
    const history = await env.client.getHistory('long');
    assert.equal(history.length, done.historyLength);
    assert.deepEqual(
      history.filter((e) => e.type === 'TaskScheduled').map((e) => e.type === 'TaskScheduled' && e.input),
      Array.from({ length: 300 }, (_, i) => `step ${i}`),
    );
    // Each window spans several tail cycles; a commit late in the history is no bigger than one early in it.
    const largest = (from: number, to: number): number => Math.max(...commitSizes.slice(from, to));
    assert.ok(
      largest(200, 300) < largest(0, 100) * 1.2,
      `commits grew from ${largest(0, 100)} to ${largest(200, 300)} bytes`,
    );
    assert.ok(
      largest(0, commitSizes.length) < 2 * TAIL_LIMIT.bytes,
      `a commit of ${largest(0, commitSizes.length)} bytes`,
    );
  });

  it('splits work between pools: an orchestration-only worker leaves activities to an activity-only worker', async () => {
    env = TestEnvironment.start(app, { startWorker: false });
    env.startWorker({ serves: { activities: false } });
    await env.client.start('echoThenWait', 'pooled', { instanceId: 'pools' });
    await until(async () => (await env.queue.depth('activities')).ready === 1, 'the activity request is queued');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(runs, [], 'no activity worker yet: the request waits in its queue');
    env.startWorker({ serves: { orchestrations: false } });
    await env.settle();
    assert.deepEqual(runs, ['pooled']);
    await env.client.raiseEvent('pools', 'go', '!');
    assert.equal((await env.waitForCompletion('pools')).output, 'pooled!');
  });
});
