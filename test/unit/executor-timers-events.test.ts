import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { EventTimeoutError } from '../../src/engine/errors.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { activityRequests, failure, Harness, send, T0, timerMessages, types } from './helpers/harness.js';

const app = defineApp({
  activities: { work: (n: number) => n, other: (n: number) => n },
  orchestrations: {
    async sleep(ctx, ms: number) {
      await ctx.createTimer(ms);
      return ctx.now().getTime();
    },
    async sleepUntil(ctx, at: number) {
      await ctx.createTimer(new Date(at));
      return 'woke';
    },
    async badTimer(ctx) {
      await ctx.createTimer(-1);
    },
    async twoEvents(ctx) {
      await ctx.callActivity('work', 1);
      const a = await ctx.waitForEvent<string>('e');
      const b = await ctx.waitForEvent<string>('e');
      return [a, b];
    },
    async approval(ctx, timeoutMs: number) {
      try {
        return { approved: await ctx.waitForEvent<boolean>('approve', { timeout: timeoutMs }) };
      } catch (error) {
        if (!(error instanceof EventTimeoutError)) throw error;
        return { timedOut: true, code: error.code, eventName: error.eventName, message: error.message };
      }
    },
    async approveThenWork(ctx) {
      const approved = await ctx.waitForEvent<boolean>('approve', { timeout: 60_000 });
      return ctx.callActivity('work', approved ? 1 : 0);
    },
    async approvalUntil(ctx, at: number) {
      return ctx.waitForEvent('approve', { timeout: new Date(at) });
    },
    async raceTimer(ctx) {
      const winner = await Promise.race([ctx.createTimer(60_000), ctx.callActivity('work', 7)]);
      await ctx.callActivity('other', 2);
      return winner ?? 'timeout';
    },
    async raceDerivedTimer(ctx) {
      const winner = await Promise.race([ctx.createTimer(60_000).then(() => 'timeout'), ctx.callActivity('work', 7)]);
      await ctx.callActivity('other', 2);
      return winner;
    },
    async raceBuffered(ctx) {
      await ctx.callActivity('work', 1);
      const winner = await Promise.race([ctx.createTimer(60_000), ctx.waitForEvent('go')]);
      return winner ?? 'timeout';
    },
    async raceWaitLoses(ctx) {
      const first = await Promise.race([ctx.waitForEvent('x'), ctx.createTimer(1000)]);
      const later = await ctx.waitForEvent('x');
      return [first ?? 'timer', later];
    },
    async raceTwoBuffered(ctx) {
      await ctx.callActivity('work', 1);
      const first = await Promise.race([ctx.waitForEvent('x'), ctx.waitForEvent('y')]);
      const later = await ctx.waitForEvent('y');
      return [first, later];
    },
    async timerAlsoAwaited(ctx) {
      const t = ctx.createTimer(1000);
      const all = Promise.all([t]);
      const winner = await Promise.race([t.then(() => 'timer'), ctx.callActivity('work', 1)]);
      await all;
      return winner;
    },
    async any(ctx) {
      return Promise.any([ctx.callActivity('work', 1), ctx.callActivity('other', 2)]);
    },
    async anyAfterFailure(ctx) {
      const failing = ctx.callActivity('work', 1);
      await ctx.callActivity('other', 2);
      const first = await Promise.any([failing, ctx.waitForEvent<string>('e')]);
      const later = await ctx.waitForEvent<string>('e');
      return [first, later];
    },
    async allSettled(ctx) {
      const settled = await Promise.allSettled([ctx.callActivity('work', 1), ctx.callActivity('other', 2)]);
      return settled.map((s) => (s.status === 'fulfilled' ? s.value : `rejected: ${(s.reason as Error).name}`));
    },
  },
});

describe('executor: timers', () => {
  it('creates a timer for now + ms, sends a delayed message, and resumes the code at the firing time', async () => {
    const h = new Harness('t1', app);
    const r = await h.start('sleep', 5000, T0);
    assert.deepEqual(r.newEvents.at(-1), { type: 'TimerCreated', at: T0, seq: 0, fireAt: T0 + 5000, purpose: 'timer' });
    assert.deepEqual(r.messages, [
      {
        id: 't1/0/timer/0',
        queue: 'orchestrations',
        instanceId: 't1',
        body: { type: 'TimerFired', generation: 0, seq: 0, fireAt: T0 + 5000 },
        deliverAt: T0 + 5000,
        priority: PRIORITY.reply,
      },
    ]);
    const fired = await h.step(send.timerFired('t1', 0, T0 + 5000), T0 + 5003);
    assert.equal(fired.snapshot.status, 'Completed');
    assert.equal(fired.snapshot.output, T0 + 5003, 'ctx.now() is the time of the turn that delivered the firing');
  });

  it('creates a timer for an absolute Date', async () => {
    const h = new Harness('t2', app);
    const at = T0 + 86_400_000;
    const r = await h.start('sleepUntil', at, T0);
    assert.equal(timerMessages(r.messages)[0]?.deliverAt, at);
    const fired = await h.step(send.timerFired('t2', 0, at), at);
    assert.equal(fired.snapshot.output, 'woke');
  });

  it('fails the instance with a ValidationError for a negative delay', async () => {
    const h = new Harness('t3', app);
    const r = await h.start('badTimer', null);
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.failure?.name, 'ValidationError');
    assert.equal(r.messages.length, 0);
  });
});

describe('executor: external events', () => {
  it('keeps events raised before the wait and hands them out in arrival order', async () => {
    const h = new Harness('e1', app);
    await h.start('twoEvents', null);
    await h.step(
      [
        send.event('e1', 'e', 'first', 'm1'),
        send.event('e1', 'unrelated', 0, 'm2'),
        send.event('e1', 'e', 'second', 'm3'),
      ],
      T0 + 1,
    );
    const r = await h.step(send.taskCompleted('e1', 0, 1), T0 + 2);
    assert.equal(r.snapshot.status, 'Completed');
    assert.deepEqual(r.snapshot.output, ['first', 'second']);
  });

  it('resolves a wait with an event that arrives after it', async () => {
    const h = new Harness('e2', app);
    const r0 = await h.start('approval', 60_000);
    assert.deepEqual(r0.newEvents.at(-1), {
      type: 'TimerCreated',
      at: T0,
      seq: 0,
      fireAt: T0 + 60_000,
      purpose: 'event-timeout',
    });
    const r = await h.step(send.event('e2', 'approve', true, 'ev-1'), T0 + 10);
    assert.deepEqual(r.snapshot.output, { approved: true });
  });

  it('rejects a wait with EventTimeoutError when its timeout timer fires first', async () => {
    const h = new Harness('e3', app);
    await h.start('approval', 60_000);
    const r = await h.step(send.timerFired('e3', 0, T0 + 60_000), T0 + 60_000);
    assert.equal(r.snapshot.status, 'Completed');
    assert.deepEqual(r.snapshot.output, {
      timedOut: true,
      code: 'EVENT_TIMEOUT',
      eventName: 'approve',
      message: "No event 'approve' arrived within 60000 ms.",
    });
  });

  it('accepts a Date as the wait timeout and fails the instance with EVENT_TIMEOUT when uncaught', async () => {
    const h = new Harness('e4', app);
    const r0 = await h.start('approvalUntil', T0 + 1000);
    assert.equal(timerMessages(r0.messages)[0]?.deliverAt, T0 + 1000);
    const r = await h.step(send.timerFired('e4', 0, T0 + 1000), T0 + 1000);
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.failure?.code, 'EVENT_TIMEOUT');
    assert.equal(r.snapshot.failure?.name, 'EventTimeoutError');
  });

  it('cancels the timeout when the event arrives first: the later firing is dropped and records nothing', async () => {
    const h = new Harness('e5', app);
    const r0 = await h.start('approveThenWork', null);
    const [timeoutMsg] = timerMessages(r0.messages);
    assert.ok(timeoutMsg);
    const approved = await h.step(send.event('e5', 'approve', true, 'ev-1'), T0 + 5);
    assert.deepEqual(types(approved.newEvents), ['EventRaised', 'TaskScheduled']);
    const late = await h.step(timeoutMsg, T0 + 60_000);
    assert.equal(late.snapshot.status, 'Running');
    assert.deepEqual(late.newEvents, []);
    assert.deepEqual(late.messages, []);
    assert.deepEqual(late.dropped, [timeoutMsg]);
    const done = await h.step(send.taskCompleted('e5', 1, 'worked'), T0 + 60_001);
    assert.equal(done.snapshot.output, 'worked');
  });
});

describe('executor: combinators and race cancellation', () => {
  it('cancels a timer that loses a race: its later firing is dropped and changes nothing', async () => {
    const h = new Harness('c1', app);
    const r0 = await h.start('raceTimer', null);
    assert.equal(timerMessages(r0.messages).length, 1);
    assert.equal(activityRequests(r0.messages).length, 1);
    const won = await h.step(send.taskCompleted('c1', 1, 7), T0 + 10);
    assert.deepEqual(types(won.newEvents), ['TaskCompleted', 'TaskScheduled']);
    const late = await h.step(send.timerFired('c1', 0, T0 + 60_000), T0 + 60_000);
    assert.equal(late.snapshot.status, 'Running', 'the instance is still running, so only cancellation drops it');
    assert.deepEqual(late.newEvents, []);
    assert.deepEqual(late.messages, []);
    assert.equal(late.dropped.length, 1);
    const done = await h.step(send.taskCompleted('c1', 2, 2), T0 + 60_001);
    assert.equal(done.snapshot.output, 7);
    assert.deepEqual((await h.replay()).snapshot, done.snapshot);
  });

  it('cancels a timer that loses a race through a .then() chain, like `timer.then(() => "timeout")`', async () => {
    const h = new Harness('c1d', app);
    await h.start('raceDerivedTimer', null);
    await h.step(send.taskCompleted('c1d', 1, 7), T0 + 10);
    const late = await h.step(send.timerFired('c1d', 0, T0 + 60_000), T0 + 60_000);
    assert.deepEqual(late.newEvents, [], 'the abandoned timer must not wake the instance');
    assert.equal(late.dropped.length, 1);
    const done = await h.step(send.taskCompleted('c1d', 2, 2), T0 + 60_001);
    assert.equal(done.snapshot.output, 7);
    assert.deepEqual((await h.replay()).snapshot, done.snapshot);
  });

  it('sends no timer message for a timer that loses a race in the turn that created it', async () => {
    const h = new Harness('c2', app);
    await h.start('raceBuffered', null);
    await h.step(send.event('c2', 'go', 'went', 'ev-go'), T0 + 1);
    const r = await h.step(send.taskCompleted('c2', 0, 1), T0 + 2);
    // The timer still takes its sequence number in history, so replay creates it too…
    assert.deepEqual(types(r.newEvents), ['TaskCompleted', 'TimerCreated', 'ExecutionCompleted']);
    // …but nothing is sent: it can never wake the instance.
    assert.deepEqual(r.messages, []);
    assert.equal(r.snapshot.output, 'went');
    const fresh = await h.replay();
    assert.deepEqual(fresh.snapshot, r.snapshot);
  });

  it('leaves the next event for a later wait when a waitForEvent loses a race', async () => {
    const h = new Harness('c3', app);
    await h.start('raceWaitLoses', null);
    const timedOut = await h.step(send.timerFired('c3', 0, T0 + 1000), T0 + 1000);
    assert.equal(timedOut.snapshot.status, 'Running');
    const r = await h.step(send.event('c3', 'x', 'X1', 'ev-x1'), T0 + 2000);
    assert.equal(r.snapshot.status, 'Completed');
    assert.deepEqual(r.snapshot.output, ['timer', 'X1']);
  });

  it('gives a later wait the event of a wait that lost a race when the events arrive after the race began', async () => {
    const h = new Harness('c4a', app);
    await h.start('raceTwoBuffered', null);
    await h.step(send.taskCompleted('c4a', 0, 1), T0 + 1);
    const r = await h.step([send.event('c4a', 'x', 'X', 'ev-x'), send.event('c4a', 'y', 'Y1', 'ev-y1')], T0 + 2);
    assert.deepEqual(r.snapshot.output, ['X', 'Y1']);
  });

  it('does not let a waitForEvent that loses a race swallow an event that had already arrived', async () => {
    // When x and y arrive after the race starts, x wins, the y wait is cancelled and Y1 goes to the later wait.
    // The outcome must not depend on whether the events arrived before or after the race began.
    const h = new Harness('c4', app);
    await h.start('raceTwoBuffered', null);
    await h.step([send.event('c4', 'x', 'X', 'ev-x'), send.event('c4', 'y', 'Y1', 'ev-y1')], T0 + 1);
    const r = await h.step(send.taskCompleted('c4', 0, 1), T0 + 2);
    assert.equal(r.snapshot.status, 'Completed', 'the later wait for y should get Y1, which had already arrived');
    assert.deepEqual(r.snapshot.output, ['X', 'Y1']);
  });

  it('does not cancel a timer that lost a race but is still awaited elsewhere', async () => {
    const h = new Harness('c5', app);
    await h.start('timerAlsoAwaited', null);
    const r1 = await h.step(send.taskCompleted('c5', 1, 1), T0 + 1);
    assert.equal(r1.snapshot.status, 'Running');
    const r2 = await h.step(send.timerFired('c5', 0, T0 + 1000), T0 + 1000);
    assert.deepEqual(types(r2.newEvents), ['TimerFired', 'ExecutionCompleted']);
    assert.equal(r2.snapshot.output, 1);
  });

  it('resolves Promise.any with the first success, skipping an earlier failure', async () => {
    const h = new Harness('c6', app);
    await h.start('any', null);
    const r1 = await h.step(send.taskFailed('c6', 0, failure('Error', 'nope')), T0 + 1);
    assert.equal(r1.snapshot.status, 'Running');
    const r2 = await h.step(send.taskCompleted('c6', 1, 'second'), T0 + 2);
    assert.equal(r2.snapshot.output, 'second');
  });

  it('rejects Promise.any with an AggregateError when every call fails', async () => {
    const h = new Harness('c7', app);
    await h.start('any', null);
    const r = await h.step(
      [send.taskFailed('c7', 1, failure('Error', 'b')), send.taskFailed('c7', 0, failure('Error', 'a'))],
      T0 + 1,
    );
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.failure?.name, 'AggregateError');
  });

  it('hands an event that wins a Promise.any after a failed call to that Promise.any only, not to a later wait', async () => {
    const h = new Harness('c9', app);
    await h.start('anyAfterFailure', null);
    await h.step([send.event('c9', 'e', 'E1', 'ev-e1'), send.taskFailed('c9', 0, failure('Error', 'nope'))], T0 + 1);
    const r1 = await h.step(send.taskCompleted('c9', 1, 2), T0 + 2);
    assert.equal(r1.snapshot.status, 'Running', 'the later wait must wait for a second event, not reuse E1');
    const r2 = await h.step(send.event('c9', 'e', 'E2', 'ev-e2'), T0 + 3);
    assert.deepEqual(r2.snapshot.output, ['E1', 'E2']);
    assert.deepEqual((await h.replay()).snapshot, r2.snapshot, 'replay hands each event out once too');
  });

  it('reports every outcome with Promise.allSettled, in call order', async () => {
    const h = new Harness('c8', app);
    await h.start('allSettled', null);
    const r = await h.step(
      [send.taskCompleted('c8', 1, 'two'), send.taskFailed('c8', 0, failure('Error', 'one failed'))],
      T0 + 1,
    );
    assert.deepEqual(r.snapshot.output, ['rejected: ActivityFailedError', 'two']);
  });
});
