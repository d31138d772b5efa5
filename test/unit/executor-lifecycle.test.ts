import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { SubOrchestrationFailedError } from '../../src/engine/errors.js';
import { OrchestrationExecutor } from '../../src/engine/executor.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { activityRequests, failure, Harness, orchestrationMessages, send, T0, types } from './helpers/harness.js';

const app = defineApp({
  activities: { work: (n: number) => n },
  orchestrations: {
    async stepThenEvent(ctx) {
      ctx.setCustomStatus('waiting for work');
      const a = await ctx.callActivity('work', 1);
      ctx.setCustomStatus({ progress: 50 });
      const e = await ctx.waitForEvent('go');
      ctx.setCustomStatus({ progress: 100 });
      return { a, e, at: ctx.now().getTime() };
    },
    async counter(ctx, n: number) {
      const got = await ctx.waitForEvent<number>('add');
      if (n + got < 10) ctx.continueAsNew(n + got);
      return n + got;
    },
    async keeper(ctx, gen: number) {
      if (gen === 0) {
        await ctx.waitForEvent('next');
        ctx.continueAsNew(1, { keepUnprocessedEvents: true });
      }
      const kept = await ctx.waitForEvent('kept');
      return { generation: ctx.generation, kept };
    },
    async keeperDone(ctx, gen: number) {
      if (gen === 0) {
        await ctx.waitForEvent('next');
        ctx.continueAsNew(1, { keepUnprocessedEvents: true });
      }
      return Promise.resolve('done');
    },
    async swallower(ctx) {
      try {
        ctx.continueAsNew('again');
      } catch {
        // a broad catch in user code
      }
      return Promise.resolve('should not complete');
    },
    async child(ctx, n: number) {
      return (await ctx.callActivity('work', n)) * 10;
    },
    async parent(ctx, n: number) {
      return ctx.callSubOrchestration('child', n);
    },
    async parentThenContinue(ctx, gen: number) {
      const out = await ctx.callSubOrchestration('child', gen);
      if (gen < 2) ctx.continueAsNew(gen + 1);
      return out;
    },
    async parentRetrying(ctx) {
      return ctx.callSubOrchestration('child', 1, { retry: { maxAttempts: 3, firstRetryIntervalMs: 10 } });
    },
    async parentCustom(ctx, id: string) {
      try {
        return await ctx.callSubOrchestration('child', 1, { instanceId: id });
      } catch (error) {
        if (!(error instanceof SubOrchestrationFailedError)) throw error;
        const { orchestrationName, instanceId, code } = error;
        return { orchestrationName, instanceId, code, name: error.failure.name, message: error.failure.message };
      }
    },
  },
});

describe('executor: suspend and resume', () => {
  it('records deliveries while suspended but runs the code only after resume', async () => {
    const h = new Harness('s1', app);
    await h.start('stepThenEvent', null);
    const suspended = await h.step(send.suspend('s1', 'maintenance'), T0 + 1);
    assert.deepEqual(suspended.newEvents, [{ type: 'ExecutionSuspended', at: T0 + 1, reason: 'maintenance' }]);
    assert.equal(suspended.snapshot.status, 'Suspended');

    const held = await h.step([send.taskCompleted('s1', 0, 1), send.event('s1', 'go', 'G', 'ev-go')], T0 + 2);
    assert.deepEqual(types(held.newEvents), ['TaskCompleted', 'EventRaised']);
    assert.deepEqual(held.messages, []);
    assert.equal(held.snapshot.status, 'Suspended');
    assert.equal(held.snapshot.customStatus, 'waiting for work', 'the code has not seen the result yet');

    const resumed = await h.step(send.resume('s1'), T0 + 3);
    assert.deepEqual(types(resumed.newEvents), ['ExecutionResumed', 'ExecutionCompleted']);
    assert.equal(resumed.snapshot.status, 'Completed');
    assert.deepEqual(resumed.snapshot.output, { a: 1, e: 'G', at: T0 + 2 });
  });

  it('replays a suspended instance with held deliveries and resumes it like the live one', async () => {
    const h = new Harness('s2', app);
    await h.start('stepThenEvent', null);
    await h.step(send.suspend('s2'), T0 + 1);
    await h.step(send.taskCompleted('s2', 0, 1), T0 + 2);
    const fresh = await h.replay();
    assert.deepEqual(fresh.snapshot, h.executor.snapshot);
    const live = await h.step(send.resume('s2'), T0 + 3);
    const replayed = await fresh.step([send.resume('s2')], T0 + 3);
    assert.deepEqual(replayed, live);
    assert.deepEqual(live.snapshot.customStatus, { progress: 50 });
  });
});

describe('executor: terminate', () => {
  it('terminates with a reason: status Terminated, no completion event, later results dropped', async () => {
    const h = new Harness('x1', app);
    await h.start('stepThenEvent', null);
    const r = await h.step(send.terminate('x1', 'operator request'), T0 + 5);
    assert.deepEqual(r.newEvents, [{ type: 'ExecutionTerminated', at: T0 + 5, reason: 'operator request' }]);
    assert.equal(r.snapshot.status, 'Terminated');
    assert.equal(r.snapshot.failure?.message, 'operator request');
    assert.equal(r.snapshot.failure?.name, 'Terminated');
    assert.deepEqual(r.messages, [], 'no parent, nothing to send');
    const late = await h.step(send.taskCompleted('x1', 0, 1), T0 + 6);
    assert.deepEqual(late.newEvents, []);
    assert.equal(late.dropped.length, 1);
    assert.equal((await h.replay()).snapshot.status, 'Terminated');
  });

  it('tells the parent with SubOrchestrationFailed when a child is terminated, even while suspended', async () => {
    const parentRef = { instanceId: 'p-x', generation: 3, seq: 4 };
    const h = new Harness('p-x:4', app);
    await h.step(send.start('p-x:4', 'child', 2, { parent: parentRef }), T0);
    await h.step(send.suspend('p-x:4'), T0 + 1);
    const r = await h.step(send.terminate('p-x:4', 'cleanup'), T0 + 2);
    assert.deepEqual(r.messages, [
      {
        id: 'p-x/3/sub-result/4',
        queue: 'orchestrations',
        instanceId: 'p-x',
        body: {
          type: 'SubOrchestrationFailed',
          generation: 3,
          seq: 4,
          failure: { name: 'Terminated', message: 'cleanup', code: 'TERMINATED' },
        },
        priority: PRIORITY.reply,
      },
    ]);
  });
});

describe('executor: custom status', () => {
  it('shows the latest custom status in the snapshot and rebuilds it on replay', async () => {
    const h = new Harness('cs1', app);
    const r0 = await h.start('stepThenEvent', null);
    assert.equal(r0.snapshot.customStatus, 'waiting for work');
    const r1 = await h.step(send.taskCompleted('cs1', 0, 1), T0 + 1);
    assert.deepEqual(r1.snapshot.customStatus, { progress: 50 });
    assert.deepEqual((await h.replay()).snapshot.customStatus, { progress: 50 });
  });
});

describe('executor: continueAsNew', () => {
  it('ends the generation as ContinuedAsNew and sends itself a start for the next generation with the new input', async () => {
    const h = new Harness('cn1', app);
    await h.start('counter', 0);
    const r = await h.step(send.event('cn1', 'add', 3, 'ev-1'), T0 + 1);
    assert.deepEqual(types(r.newEvents), ['EventRaised', 'ExecutionCompleted']);
    assert.deepEqual(r.newEvents[1], { type: 'ExecutionCompleted', at: T0 + 1, status: 'ContinuedAsNew' });
    assert.equal(r.snapshot.status, 'ContinuedAsNew');
    assert.equal('output' in r.snapshot, false);
    assert.deepEqual(r.messages, [
      {
        id: 'cn1/1/start/0',
        queue: 'orchestrations',
        instanceId: 'cn1',
        // The events it received are remembered by the next generation: a repeat of one is dropped there too.
        body: { type: 'ExecutionStarted', name: 'counter', input: 3, generation: 1, seenEventIds: ['ev-1'] },
        priority: PRIORITY.control,
      },
    ]);
  });

  it('defers events and control messages that arrive between generations', async () => {
    const h = new Harness('cn2', app);
    await h.start('counter', 0);
    await h.step(send.event('cn2', 'add', 3, 'ev-1'), T0 + 1);
    const between = [send.event('cn2', 'add', 4, 'ev-2'), send.suspend('cn2'), send.terminate('cn2')];
    const r = await h.step(between, T0 + 2);
    assert.deepEqual(r.newEvents, []);
    assert.deepEqual(r.deferred, between);
  });

  it('runs the next generation in a fresh executor from the start message', async () => {
    const h = new Harness('cn3', app);
    await h.start('counter', 0);
    const r = await h.step(send.event('cn3', 'add', 3, 'ev-1'), T0 + 1);
    const [startNext] = orchestrationMessages(r.messages);
    assert.ok(startNext);
    const gen1 = new OrchestrationExecutor('cn3', app);
    const g1 = await gen1.step([startNext], T0 + 2);
    assert.deepEqual(g1.newEvents, [
      { type: 'ExecutionStarted', at: T0 + 2, name: 'counter', input: 3, generation: 1, seenEventIds: ['ev-1'] },
    ]);
    assert.equal(g1.snapshot.generation, 1);
    const done = await gen1.step([send.event('cn3', 'add', 7, 'ev-2')], T0 + 3);
    assert.equal(done.snapshot.status, 'Completed');
    assert.equal(done.snapshot.output, 10);
  });

  it('carries events raised but not consumed into the next generation with keepUnprocessedEvents', async () => {
    const h = new Harness('cn4', app);
    await h.start('keeper', 0);
    const r = await h.step([send.event('cn4', 'kept', 'K', 'ev-k'), send.event('cn4', 'next', 1, 'ev-n')], T0 + 1);
    const [startNext] = orchestrationMessages(r.messages);
    assert.equal(startNext?.body.type, 'ExecutionStarted');
    if (startNext?.body.type !== 'ExecutionStarted') return;
    assert.deepEqual(
      startNext.body.carriedEvents?.map((e) => e.type === 'EventRaised' && [e.name, e.input, e.messageId]),
      [['kept', 'K', 'ev-k']],
    );
    const gen1 = new OrchestrationExecutor('cn4', app);
    const g1 = await gen1.step([startNext], T0 + 2);
    assert.equal(g1.snapshot.status, 'Completed');
    assert.deepEqual(g1.snapshot.output, { generation: 1, kept: 'K' });
    const dup = await gen1.step([send.event('cn4', 'kept', 'K', 'ev-k')], T0 + 3);
    assert.equal(dup.dropped.length, 1, 'the carried message id is remembered');
  });

  it('does not carry buffered events without keepUnprocessedEvents', async () => {
    const h = new Harness('cn5', app);
    await h.start('counter', 0);
    const r = await h.step([send.event('cn5', 'other', 1, 'ev-o'), send.event('cn5', 'add', 3, 'ev-1')], T0 + 1);
    const [startNext] = orchestrationMessages(r.messages);
    assert.equal(startNext?.body.type === 'ExecutionStarted' && startNext.body.carriedEvents, undefined);
  });

  it('records carried events before the next generation completes, never after ExecutionCompleted', async () => {
    const h = new Harness('cn6', app);
    await h.start('keeperDone', 0);
    const r = await h.step([send.event('cn6', 'extra', 'E', 'ev-e'), send.event('cn6', 'next', 1, 'ev-n')], T0 + 1);
    const [startNext] = orchestrationMessages(r.messages);
    assert.ok(startNext);
    const g1 = await new OrchestrationExecutor('cn6', app).step([startNext], T0 + 2);
    assert.equal(g1.snapshot.status, 'Completed');
    assert.equal(g1.newEvents.at(-1)?.type, 'ExecutionCompleted', `history: ${types(g1.newEvents).join(', ')}`);
  });

  it('ends the execution as asked even when the code swallows the continueAsNew in a broad catch', async () => {
    const h = new Harness('cn7', app);
    const r = await h.start('swallower', null);
    assert.equal(r.snapshot.status, 'ContinuedAsNew');
    assert.equal(orchestrationMessages(r.messages)[0]?.body.type, 'ExecutionStarted');
  });
});

describe('executor: sub-orchestrations', () => {
  it('starts a child with a deterministic id and hands its output back to the parent', async () => {
    const parent = new Harness('p1', app);
    const p0 = await parent.start('parent', 4);
    assert.deepEqual(p0.newEvents.at(-1), {
      type: 'SubOrchestrationCreated',
      at: T0,
      seq: 0,
      name: 'child',
      instanceId: 'p1:0:0',
      input: 4,
    });
    const [childStart] = orchestrationMessages(p0.messages);
    assert.deepEqual(childStart, {
      id: 'p1:0:0/0/start/0',
      queue: 'orchestrations',
      instanceId: 'p1:0:0',
      body: {
        type: 'ExecutionStarted',
        name: 'child',
        input: 4,
        generation: 0,
        parent: { instanceId: 'p1', generation: 0, seq: 0 },
      },
      priority: PRIORITY.control,
    });

    const child = new Harness('p1:0:0', app);
    const c0 = await child.step(childStart, T0 + 1);
    assert.deepEqual(c0.snapshot.parent, { instanceId: 'p1', generation: 0, seq: 0 });
    assert.equal(activityRequests(c0.messages)[0]?.instanceId, 'p1:0:0');
    const c1 = await child.step(send.taskCompleted('p1:0:0', 0, 4), T0 + 2);
    const [reply] = orchestrationMessages(c1.messages);
    assert.deepEqual(reply, {
      id: 'p1/0/sub-result/0',
      queue: 'orchestrations',
      instanceId: 'p1',
      body: { type: 'SubOrchestrationCompleted', generation: 0, seq: 0, result: 40 },
      priority: PRIORITY.reply,
    });

    const done = await parent.step(reply, T0 + 3);
    assert.equal(done.snapshot.output, 40);
  });

  it('rejects the parent call with SubOrchestrationFailedError when the child fails', async () => {
    const parent = new Harness('p2', app);
    await parent.start('parentCustom', 'order-7-payment');
    const r = await parent.step(send.subFailed('p2', 0, failure('PaymentError', 'card declined')), T0 + 1);
    assert.deepEqual(r.snapshot.output, {
      orchestrationName: 'child',
      instanceId: 'order-7-payment',
      code: 'SUB_ORCHESTRATION_FAILED',
      name: 'PaymentError',
      message: 'card declined',
    });
  });

  it('gives the child of the next generation a default id other than the child of the previous one', async () => {
    const gen0 = new Harness('pg', app);
    const [child0] = orchestrationMessages((await gen0.start('parentThenContinue', 0)).messages);
    const ended = await gen0.step(send.subCompleted('pg', 0, 0), T0 + 1);
    const [startNext] = orchestrationMessages(ended.messages);
    assert.ok(child0 && startNext);
    const gen1 = new OrchestrationExecutor('pg', app);
    const [child1] = orchestrationMessages((await gen1.step([startNext], T0 + 2)).messages);
    assert.equal(child0.instanceId, 'pg:0:0');
    assert.equal(child1?.instanceId, 'pg:1:0', 'generation 1 must not start the child id generation 0 used');
    assert.deepEqual(child1?.body.type === 'ExecutionStarted' && child1.body.parent, {
      instanceId: 'pg',
      generation: 1,
      seq: 0,
    });
  });

  it('keeps default child ids of a long parent id valid, distinct and the same on replay', async () => {
    const idRule = /^[A-Za-z0-9_.:#~-]{1,200}$/;
    const longA = `${'a'.repeat(199)}A`;
    const longB = `${'a'.repeat(199)}B`;
    const childIds = async (parentId: string): Promise<string[]> => {
      const h = new Harness(parentId, app);
      const r0 = await h.start('parentRetrying', null);
      const r1 = await h.step(send.subFailed(parentId, 0, failure('Error', 'first attempt')), T0 + 1);
      const retry = r1.newEvents.find((e) => e.type === 'TimerCreated');
      assert.ok(retry?.type === 'TimerCreated');
      const r2 = await h.step(send.timerFired(parentId, retry.seq, retry.fireAt), retry.fireAt);
      const created = [...r0.newEvents, ...r2.newEvents].filter((e) => e.type === 'SubOrchestrationCreated');
      const replayed = await h.replay();
      assert.deepEqual(replayed.snapshot, r2.snapshot, 'replay derives the same child ids');
      return created.map((e) => (e.type === 'SubOrchestrationCreated' ? e.instanceId : ''));
    };
    const [a1, a2] = await childIds(longA);
    const [b1] = await childIds(longB);
    assert.ok(a1 && a2 && b1);
    for (const id of [a1, a2, b1]) assert.match(id, idRule);
    assert.ok(a2.endsWith('#2'), `a retry keeps its attempt suffix: ${a2}`);
    assert.notEqual(a1, b1, 'parents that differ only past the cut get different children');
    assert.deepEqual(await childIds(longA), [a1, a2], 'the same parent derives the same ids every time');
  });

  it('uses a custom child instance id', async () => {
    const parent = new Harness('p3', app);
    const r = await parent.start('parentCustom', 'my-child');
    const [start] = orchestrationMessages(r.messages);
    assert.equal(start?.instanceId, 'my-child');
    assert.equal(start?.id, 'my-child/0/start/0');
  });

  it('answers INSTANCE_EXISTS to a second parent that starts a child id already taken', async () => {
    const first = new Harness('pa', app);
    const second = new Harness('pb', app);
    const [startA] = orchestrationMessages((await first.start('parentCustom', 'shared')).messages);
    const [startB] = orchestrationMessages((await second.start('parentCustom', 'shared')).messages);
    assert.ok(startA && startB);

    const child = new Harness('shared', app);
    await child.step(startA, T0 + 1);
    const again = await child.step(startA, T0 + 2);
    assert.deepEqual(again.messages, [], 'the same parent re-sending its start gets no reply');
    const r = await child.step(startB, T0 + 3);
    assert.deepEqual(r.newEvents, []);
    assert.deepEqual(r.dropped, [startB]);
    const [reply] = orchestrationMessages(r.messages);
    assert.equal(reply?.id, 'pb/0/sub-result/0');
    assert.equal(reply?.body.type === 'SubOrchestrationFailed' && reply.body.failure.code, 'INSTANCE_EXISTS');
    assert.ok(reply);
    const out = await second.step(reply, T0 + 4);
    assert.equal((out.snapshot.output as { name: string }).name, 'InstanceExistsError');
    assert.equal(child.executor.snapshot.parent?.instanceId, 'pa', 'the child still belongs to its first parent');
  });
});
