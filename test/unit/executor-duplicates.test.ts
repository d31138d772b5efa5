import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { Harness, send, T0, types } from './helpers/harness.js';

const app = defineApp({
  activities: { work: (n: number) => n },
  orchestrations: {
    async twoSteps(ctx, n: number) {
      const a = await ctx.callActivity('work', n);
      const b = await ctx.callActivity('work', a + 1);
      return [a, b];
    },
    async events(ctx) {
      const a = await ctx.waitForEvent('e');
      const b = await ctx.waitForEvent('e');
      return [a, b];
    },
    async once(ctx) {
      return ctx.callActivity('work', 1);
    },
  },
});

describe('executor: duplicates and stale messages', () => {
  it('drops a second start of a running instance without events', async () => {
    const h = new Harness('d1', app);
    await h.start('twoSteps', 1);
    const start = send.start('d1', 'twoSteps', 1);
    const r = await h.step(start, T0 + 1);
    assert.deepEqual(r.newEvents, []);
    assert.deepEqual(r.messages, []);
    assert.deepEqual(r.dropped, [start]);
    assert.equal(r.snapshot.status, 'Running');
  });

  it('drops a duplicate start delivered in the same turn as the first', async () => {
    const h = new Harness('d2', app);
    const start = send.start('d2', 'twoSteps', 1);
    const r = await h.step([start, start], T0);
    assert.deepEqual(types(r.newEvents), ['ExecutionStarted', 'TaskScheduled']);
    assert.equal(r.dropped.length, 1);
    assert.equal(r.messages.length, 1);
  });

  it('drops a duplicate TaskCompleted, in a later turn and in the same turn', async () => {
    const h = new Harness('d3', app);
    await h.start('twoSteps', 1);
    const done0 = send.taskCompleted('d3', 0, 10);
    const same = await h.step([done0, done0], T0 + 1);
    assert.deepEqual(types(same.newEvents), ['TaskCompleted', 'TaskScheduled']);
    assert.deepEqual(same.dropped, [done0]);
    const later = await h.step(send.taskCompleted('d3', 0, 999), T0 + 2);
    assert.deepEqual(later.newEvents, []);
    assert.deepEqual(later.messages, []);
    assert.equal(later.dropped.length, 1);
    const done = await h.step(send.taskCompleted('d3', 1, 11), T0 + 3);
    assert.deepEqual(done.snapshot.output, [10, 11], 'the first result counts, not the duplicate');
  });

  it('drops a completion from another generation', async () => {
    const h = new Harness('d4', app);
    await h.start('twoSteps', 1);
    const stale = send.taskCompleted('d4', 0, 'old', 7);
    const r = await h.step(stale, T0 + 1);
    assert.deepEqual(r.newEvents, []);
    assert.deepEqual(r.dropped, [stale]);
  });

  it('drops a completion for a sequence number that was never scheduled or is of another kind', async () => {
    const h = new Harness('d5', app);
    await h.start('twoSteps', 1);
    const r = await h.step(
      [send.taskCompleted('d5', 5, 'nope'), send.timerFired('d5', 0, T0), send.subCompleted('d5', 0, 'x')],
      T0 + 1,
    );
    assert.deepEqual(r.newEvents, []);
    assert.equal(r.dropped.length, 3);
    assert.equal(r.snapshot.status, 'Running');
  });

  it('drops a second EventRaised with the same message id, even with a different payload', async () => {
    const h = new Harness('d6', app);
    await h.start('events', null);
    const first = await h.step(send.event('d6', 'e', 'one', 'ev-1'), T0 + 1);
    assert.deepEqual(types(first.newEvents), ['EventRaised']);
    const dup = send.event('d6', 'e', 'copy', 'ev-1');
    const second = await h.step(dup, T0 + 2);
    assert.deepEqual(second.newEvents, []);
    assert.deepEqual(second.dropped, [dup]);
    const done = await h.step(send.event('d6', 'e', 'two', 'ev-2'), T0 + 3);
    assert.deepEqual(done.snapshot.output, ['one', 'two']);
  });

  it('remembers event message ids across a replay', async () => {
    const h = new Harness('d7', app);
    await h.start('events', null);
    await h.step(send.event('d7', 'e', 'one', 'ev-1'), T0 + 1);
    const fresh = await h.replay();
    const r = await fresh.step([send.event('d7', 'e', 'one', 'ev-1')], T0 + 2);
    assert.deepEqual(r.newEvents, []);
    assert.equal(r.dropped.length, 1);
  });

  it('drops completions, events and control messages after the instance completed', async () => {
    const h = new Harness('d8', app);
    await h.start('once', null);
    await h.step(send.taskCompleted('d8', 0, 1), T0 + 1);
    const late = [
      send.taskCompleted('d8', 0, 2),
      send.event('d8', 'e', 1, 'ev-late'),
      send.suspend('d8'),
      send.resume('d8'),
      send.terminate('d8', 'too late'),
    ];
    const r = await h.step(late, T0 + 2);
    assert.deepEqual(r.newEvents, []);
    assert.deepEqual(r.messages, []);
    assert.equal(r.dropped.length, late.length);
    assert.equal(r.snapshot.status, 'Completed');
    assert.equal(r.snapshot.output, 1);
  });

  it('drops a second Suspend, a Resume of a running instance and a second Terminate', async () => {
    const h = new Harness('d9', app);
    await h.start('twoSteps', 1);
    const resumeRunning = await h.step(send.resume('d9'), T0 + 1);
    assert.deepEqual(resumeRunning.newEvents, []);
    assert.equal(resumeRunning.dropped.length, 1);

    const s1 = await h.step(send.suspend('d9', 'first'), T0 + 2);
    assert.deepEqual(types(s1.newEvents), ['ExecutionSuspended']);
    const s2 = await h.step(send.suspend('d9', 'second'), T0 + 3);
    assert.deepEqual(s2.newEvents, []);
    assert.equal(s2.dropped.length, 1);
    assert.equal(s2.snapshot.status, 'Suspended');

    const t1 = await h.step(send.terminate('d9', 'stop'), T0 + 4);
    assert.deepEqual(types(t1.newEvents), ['ExecutionTerminated']);
    const t2 = await h.step(send.terminate('d9', 'stop again'), T0 + 5);
    assert.deepEqual(t2.newEvents, []);
    assert.equal(t2.dropped.length, 1);
    assert.equal(t2.snapshot.failure?.message, 'stop', 'the first reason is kept');
  });

  it('defers every message that arrives before the start, and applies them once it does', async () => {
    const h = new Harness('d10', app);
    const early = [send.event('d10', 'e', 'early', 'ev-0'), send.suspend('d10'), send.taskCompleted('d10', 0, 1)];
    const r = await h.step(early, T0);
    assert.deepEqual(r.newEvents, []);
    assert.deepEqual(r.deferred, early);
    assert.deepEqual(r.dropped, []);
    assert.equal(r.snapshot.status, 'Pending');

    const started = await h.step([send.event('d10', 'e', 'early', 'ev-0'), send.start('d10', 'events', null)], T0 + 1);
    assert.deepEqual(types(started.newEvents), ['ExecutionStarted', 'EventRaised'], 'the start goes first');
  });

  it('drops a duplicate TaskCompleted that arrives while the instance is suspended', async () => {
    const h = new Harness('d11', app);
    await h.start('once', null);
    await h.step(send.suspend('d11'), T0 + 1);
    const first = await h.step(send.taskCompleted('d11', 0, 'r'), T0 + 2);
    assert.deepEqual(types(first.newEvents), ['TaskCompleted']);
    const dup = await h.step(send.taskCompleted('d11', 0, 'r'), T0 + 3);
    assert.deepEqual(dup.newEvents, [], 'a second copy of a completion must not be recorded');
    assert.equal(dup.dropped.length, 1);
    const resumed = await h.step(send.resume('d11'), T0 + 4);
    assert.equal(resumed.snapshot.status, 'Completed');
    assert.equal(resumed.snapshot.output, 'r');
  });

  it('drops a duplicate EventRaised that arrives while the instance is suspended', async () => {
    const h = new Harness('d12', app);
    await h.start('events', null);
    await h.step(send.suspend('d12'), T0 + 1);
    await h.step(send.event('d12', 'e', 'one', 'ev-1'), T0 + 2);
    const dup = await h.step(send.event('d12', 'e', 'one', 'ev-1'), T0 + 3);
    assert.deepEqual(dup.newEvents, [], 'a second copy of an event message must not be recorded');
    assert.equal(dup.dropped.length, 1);
    const resumed = await h.step(send.resume('d12'), T0 + 4);
    assert.equal(resumed.snapshot.status, 'Running', 'one event only: the second wait is still open');
  });
});
