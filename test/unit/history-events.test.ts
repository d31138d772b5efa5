import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { executeOrchestration } from '../../src/engine/executor.js';
import { events } from '../../src/engine/history.js';
import { messageId, PRIORITY } from '../../src/engine/messages.js';
import { send, T0 } from './helpers/harness.js';

describe('history event factories', () => {
  it('builds ExecutionStarted with the given fields, at 0 by default, and keeps a parent reference', () => {
    assert.deepEqual(events.executionStarted({ name: 'hello', input: { who: 'Tokyo' }, generation: 0 }), {
      type: 'ExecutionStarted',
      at: 0,
      name: 'hello',
      input: { who: 'Tokyo' },
      generation: 0,
    });
    const parent = { instanceId: 'p', generation: 2, seq: 5 };
    assert.deepEqual(events.executionStarted({ name: 'child', input: 1, generation: 0, parent }, 1234), {
      type: 'ExecutionStarted',
      at: 1234,
      name: 'child',
      input: 1,
      generation: 0,
      parent,
    });
  });

  it('builds activity events keyed by sequence number', () => {
    assert.deepEqual(events.taskScheduled(3, 'charge', { amount: 5 }, 10), {
      type: 'TaskScheduled',
      at: 10,
      seq: 3,
      name: 'charge',
      input: { amount: 5 },
    });
    assert.deepEqual(events.taskCompleted(3, 'ok'), { type: 'TaskCompleted', at: 0, seq: 3, result: 'ok' });
    const failure = { name: 'Declined', message: 'card declined' };
    assert.deepEqual(events.taskFailed(3, failure, 11), { type: 'TaskFailed', at: 11, seq: 3, failure });
  });

  it('leaves an omitted activity input and result as undefined rather than dropping the field', () => {
    const scheduled = events.taskScheduled(0, 'ping');
    const completed = events.taskCompleted(0);
    assert.ok('input' in scheduled);
    assert.equal(scheduled.input, undefined);
    assert.ok('result' in completed);
    assert.equal(completed.result, undefined);
  });

  it('builds sub-orchestration events with the child instance id', () => {
    assert.deepEqual(events.subOrchestrationCreated({ seq: 1, name: 'child', instanceId: 'p:1', input: 'x' }, 7), {
      type: 'SubOrchestrationCreated',
      at: 7,
      seq: 1,
      name: 'child',
      instanceId: 'p:1',
      input: 'x',
    });
    assert.deepEqual(events.subOrchestrationCompleted(1, 42, 8), {
      type: 'SubOrchestrationCompleted',
      at: 8,
      seq: 1,
      result: 42,
    });
    const failure = { name: 'Error', message: 'child broke' };
    assert.deepEqual(events.subOrchestrationFailed(1, failure), {
      type: 'SubOrchestrationFailed',
      at: 0,
      seq: 1,
      failure,
    });
  });

  it("defaults a timer's purpose to 'timer' and a firing's time to its fireAt", () => {
    assert.deepEqual(events.timerCreated(2, 5000), {
      type: 'TimerCreated',
      at: 0,
      seq: 2,
      fireAt: 5000,
      purpose: 'timer',
    });
    assert.deepEqual(events.timerCreated(2, 5000, 'retry', 100), {
      type: 'TimerCreated',
      at: 100,
      seq: 2,
      fireAt: 5000,
      purpose: 'retry',
    });
    assert.deepEqual(events.timerFired(2, 5000), { type: 'TimerFired', at: 5000, seq: 2, fireAt: 5000 });
    assert.deepEqual(events.timerFired(2, 5000, 5123), { type: 'TimerFired', at: 5123, seq: 2, fireAt: 5000 });
  });

  it('builds EventRaised with the id of the message that carried it', () => {
    assert.deepEqual(events.eventRaised('approved', true, 'msg-1', 99), {
      type: 'EventRaised',
      at: 99,
      name: 'approved',
      input: true,
      messageId: 'msg-1',
    });
  });

  it('omits the reason key of control events when no reason is given, and keeps it when one is', () => {
    for (const make of [events.executionSuspended, events.executionResumed, events.executionTerminated]) {
      const bare = make();
      assert.equal('reason' in bare, false, `${bare.type} without a reason has no reason key`);
      assert.equal(bare.at, 0);
      const withReason = make('maintenance', 50);
      assert.equal(withReason.reason, 'maintenance');
      assert.equal(withReason.at, 50);
    }
    assert.equal(events.executionSuspended().type, 'ExecutionSuspended');
    assert.equal(events.executionResumed().type, 'ExecutionResumed');
    assert.equal(events.executionTerminated().type, 'ExecutionTerminated');
  });

  it('builds ExecutionCompleted for each final status', () => {
    assert.deepEqual(events.executionCompleted({ status: 'Completed', result: [1, 2] }, 3), {
      type: 'ExecutionCompleted',
      at: 3,
      status: 'Completed',
      result: [1, 2],
    });
    const failure = { name: 'TypeError', message: 'x is undefined' };
    assert.deepEqual(events.executionCompleted({ status: 'Failed', failure }), {
      type: 'ExecutionCompleted',
      at: 0,
      status: 'Failed',
      failure,
    });
    assert.deepEqual(events.executionCompleted({ status: 'ContinuedAsNew' }), {
      type: 'ExecutionCompleted',
      at: 0,
      status: 'ContinuedAsNew',
    });
  });
});

describe('message ids and priorities', () => {
  it('formats engine message ids as <instance>/<generation>/<kind>/<seq>', () => {
    assert.equal(messageId('order-1', 0, 'activity', 3), 'order-1/0/activity/3');
    assert.equal(messageId('order-1', 2, 'timer', 0), 'order-1/2/timer/0');
    assert.equal(messageId('p:1', 0, 'start', 0), 'p:1/0/start/0');
    assert.equal(messageId('x', 1, 'custom', 'abc'), 'x/1/custom/abc');
  });

  it('orders control before replies before new work', () => {
    assert.ok(PRIORITY.control < PRIORITY.reply);
    assert.ok(PRIORITY.reply < PRIORITY.work);
  });
});

describe('events recorded by the executor', () => {
  const app = defineApp({
    orchestrations: {
      async wf(ctx, n: number) {
        await ctx.createTimer(1000);
        return ctx.callActivity('double', n);
      },
    },
    activities: { double: (n: number) => n * 2 },
  });

  it('records the same shapes the factories build, stamped with the turn time', async () => {
    const started = await executeOrchestration('h1', [], [send.start('h1', 'wf', 21)], app, T0);
    assert.deepEqual(started.newEvents, [
      events.executionStarted({ name: 'wf', input: 21, generation: 0 }, T0),
      events.timerCreated(0, T0 + 1000, 'timer', T0),
    ]);

    const fired = await executeOrchestration(
      'h1',
      started.newEvents,
      [send.timerFired('h1', 0, T0 + 1000)],
      app,
      T0 + 1005,
    );
    assert.deepEqual(fired.newEvents, [
      events.timerFired(0, T0 + 1000, T0 + 1005),
      events.taskScheduled(1, 'double', 21, T0 + 1005),
    ]);

    const done = await executeOrchestration(
      'h1',
      [...started.newEvents, ...fired.newEvents],
      [send.taskCompleted('h1', 1, 42)],
      app,
      T0 + 2000,
    );
    assert.deepEqual(done.newEvents, [
      events.taskCompleted(1, 42, T0 + 2000),
      events.executionCompleted({ status: 'Completed', result: 42 }, T0 + 2000),
    ]);
  });
});
