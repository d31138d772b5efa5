import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import type { OrchestrationLogRecord } from '../../src/engine/executor.js';
import { executeOrchestration, OrchestrationExecutor } from '../../src/engine/executor.js';
import type { OrchestrationMessage } from '../../src/engine/messages.js';
import { failure, Harness, send, T0 } from './helpers/harness.js';

const trace: Array<[string, boolean]> = [];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const app = defineApp({
  activities: { double: (n: number) => n * 2 },
  orchestrations: {
    async everything(ctx, input: { n: number }) {
      ctx.setCustomStatus({ stage: 'start' });
      ctx.log.info('starting', { n: input.n });
      const guid = ctx.newGuid();
      const rnd = ctx.random();
      const startedAt = ctx.now().getTime();
      const [a, b] = await Promise.all([ctx.callActivity('double', input.n), ctx.callActivity('double', input.n + 1)]);
      ctx.setCustomStatus({ stage: 'fanned-in', a, b });
      const child = await ctx.callSubOrchestration('child', a + b);
      await ctx.createTimer(1000);
      const winner = await Promise.race([
        ctx.waitForEvent<string>('approve', { timeout: 10_000 }),
        ctx.callActivity('double', 100),
      ]);
      ctx.log.warn('raced', { winner });
      ctx.setCustomStatus({ stage: 'done' });
      return { guid, rnd, startedAt, a, b, child, winner, endedAt: ctx.now().getTime(), guid2: ctx.newGuid() };
    },
    async child(_ctx, n: number) {
      return Promise.resolve(`child-${n}`);
    },
    async traced(ctx) {
      trace.push(['start', ctx.isReplaying]);
      ctx.log.info('start', { step: 0 });
      await ctx.callActivity('double', 1);
      trace.push(['after-1', ctx.isReplaying]);
      ctx.log.info('after-1', { step: 1 });
      await ctx.callActivity('double', 2);
      trace.push(['after-2', ctx.isReplaying]);
      ctx.log.error('after-2');
      return 'ok';
    },
    async randomness(ctx) {
      const first = { guid: ctx.newGuid(), guidB: ctx.newGuid(), random: ctx.random(), now: ctx.now().getTime() };
      await ctx.callActivity('double', 1);
      return { first, later: { guid: ctx.newGuid(), random: ctx.random(), now: ctx.now().getTime() } };
    },
    async raceTwo(ctx) {
      return Promise.race([ctx.callActivity('double', 1), ctx.callActivity('double', 2)]);
    },
    async allTwo(ctx) {
      try {
        return await Promise.all([ctx.callActivity('double', 1), ctx.callActivity('double', 2)]);
      } catch (error) {
        return `failed: ${(error as Error).message}`;
      }
    },
  },
});

describe('executor: replay', () => {
  beforeEach(() => {
    trace.length = 0;
  });

  it('rebuilds the same state from history after every turn and then steps identically to the live executor', async () => {
    const id = 'rep-1';
    const h = new Harness(id, app);
    const turns: Array<[OrchestrationMessage[], number]> = [
      [[send.start(id, 'everything', { n: 1 })], T0],
      [[send.taskCompleted(id, 1, 4)], T0 + 10],
      [[send.taskCompleted(id, 0, 2)], T0 + 20],
      [[send.subCompleted(id, 2, 'child-6')], T0 + 30],
      [[send.timerFired(id, 3, T0 + 1030)], T0 + 1030],
      [[send.event(id, 'approve', 'yes', 'ev-approve')], T0 + 2000],
      [[send.taskCompleted(id, 5, 200), send.timerFired(id, 4, T0 + 11_030)], T0 + 11_030],
    ];
    for (const [messages, now] of turns) {
      const fresh = await h.replay();
      assert.deepEqual(fresh.snapshot, h.executor.snapshot, `snapshot before the turn at ${now - T0}`);
      assert.equal(fresh.historyLength, h.history.length);
      const live = await h.step(messages, now);
      const replayed = await fresh.step(messages, now);
      assert.deepEqual(replayed, live, `step at ${now - T0}`);
    }
    const snapshot = h.executor.snapshot;
    assert.equal(snapshot.status, 'Completed');
    assert.deepEqual(snapshot.customStatus, { stage: 'done' });
    const output = snapshot.output as Record<string, unknown>;
    assert.equal(output.child, 'child-6');
    assert.equal(output.winner, 'yes');
    assert.equal(output.startedAt, T0);
    assert.equal(output.endedAt, T0 + 2000);
    assert.deepEqual([output.a, output.b], [2, 4]);
    // The last turn's messages were a late activity result and the cancelled timeout: both dropped.
    assert.equal(h.results.at(-1)?.dropped.length, 2);
    assert.deepEqual((await h.replay()).snapshot, snapshot);
  });

  it('gives the same result through the pure executeOrchestration as through a live executor', async () => {
    const h = new Harness('rep-2', app);
    await h.start('traced', null);
    const history = [...h.history];
    const live = await h.step(send.taskCompleted('rep-2', 0, 2), T0 + 5);
    const pure = await executeOrchestration('rep-2', history, [send.taskCompleted('rep-2', 0, 2)], app, T0 + 5);
    assert.deepEqual(pure, live);
  });

  it('runs the code with isReplaying true over recorded events and false over new ones', async () => {
    const h = new Harness('rep-3', app);
    await h.start('traced', null);
    await h.step(send.taskCompleted('rep-3', 0, 2), T0 + 1);
    assert.deepEqual(trace, [
      ['start', false],
      ['after-1', false],
    ]);
    trace.length = 0;
    const fresh = await h.replay();
    assert.deepEqual(trace, [
      ['start', true],
      ['after-1', true],
    ]);
    assert.equal(fresh.isReplaying, false, 'load leaves the executor ready for new events');
    trace.length = 0;
    await fresh.step([send.taskCompleted('rep-3', 1, 4)], T0 + 2);
    assert.deepEqual(trace, [['after-2', false]]);
  });

  it('keeps the logger silent during replay and writes each line once for new events', async () => {
    const live: OrchestrationLogRecord[] = [];
    const h = new Harness('rep-4', app, { logSink: (r) => live.push(r) });
    await h.start('traced', null);
    await h.step(send.taskCompleted('rep-4', 0, 2), T0 + 1);
    assert.deepEqual(live, [
      { level: 'info', message: 'start', fields: { step: 0 }, instanceId: 'rep-4', name: 'traced' },
      { level: 'info', message: 'after-1', fields: { step: 1 }, instanceId: 'rep-4', name: 'traced' },
    ]);

    const replayed: OrchestrationLogRecord[] = [];
    const fresh = await h.replay({ logSink: (r) => replayed.push(r) });
    assert.deepEqual(replayed, []);
    await fresh.step([send.taskCompleted('rep-4', 1, 4)], T0 + 2);
    assert.deepEqual(replayed, [{ level: 'error', message: 'after-2', instanceId: 'rep-4', name: 'traced' }]);
  });

  it('gives now(), newGuid() and random() identical values on replay', async () => {
    const h = new Harness('rep-5', app);
    await h.start('randomness', null, T0);
    const done = await h.step(send.taskCompleted('rep-5', 0, 2), T0 + 777);
    const out = done.snapshot.output as { first: Record<string, unknown>; later: Record<string, unknown> };
    assert.match(String(out.first.guid), UUID_V4);
    assert.match(String(out.later.guid), UUID_V4);
    assert.notEqual(out.first.guid, out.first.guidB, 'each call gives a new guid');
    assert.notEqual(out.first.guid, out.later.guid);
    for (const r of [out.first.random, out.later.random]) {
      assert.ok(typeof r === 'number' && r >= 0 && r < 1);
    }
    assert.equal(out.first.now, T0);
    assert.equal(out.later.now, T0 + 777);

    const fresh = await h.replay();
    assert.deepEqual(fresh.snapshot.output, out);
  });

  it('gives different guids and random numbers to different instances', async () => {
    const outputs: unknown[] = [];
    for (const id of ['rnd-a', 'rnd-b']) {
      const h = new Harness(id, app);
      await h.start('randomness', null, T0);
      outputs.push((await h.step(send.taskCompleted(id, 0, 2), T0 + 1)).snapshot.output);
    }
    const [a, b] = outputs as Array<{ first: { guid: string; random: number } }>;
    assert.notEqual(a?.first.guid, b?.first.guid);
    assert.notEqual(a?.first.random, b?.first.random);
  });

  it('resolves Promise.race in history order on the first run and on replay', async () => {
    const h = new Harness('rep-6', app);
    await h.start('raceTwo', null);
    // The second call's result is delivered first: it wins, although its sequence number is higher.
    const done = await h.step(
      [send.taskCompleted('rep-6', 1, 'second'), send.taskCompleted('rep-6', 0, 'first')],
      T0 + 1,
    );
    assert.equal(done.snapshot.output, 'second');
    assert.equal((await h.replay()).snapshot.output, 'second');
  });

  it('rejects Promise.all with the failure that comes first in history, on the first run and on replay', async () => {
    const h = new Harness('rep-7', app);
    await h.start('allTwo', null);
    await h.step(send.taskFailed('rep-7', 1, failure('Error', 'second broke')), T0 + 1);
    const done = await h.step(send.taskFailed('rep-7', 0, failure('Error', 'first broke')), T0 + 2);
    assert.match(String(done.snapshot.output), /second broke/);
    const fresh = await h.replay();
    assert.equal(fresh.snapshot.output, done.snapshot.output);
  });

  it('loads an empty history into a Pending instance that a start message then runs', async () => {
    const executor = new OrchestrationExecutor('rep-8', app);
    await executor.load([]);
    assert.equal(executor.snapshot.status, 'Pending');
    const r = await executor.step([send.start('rep-8', 'raceTwo', null)], T0);
    assert.equal(r.snapshot.status, 'Running');
    assert.equal(r.messages.length, 2);
  });
});
