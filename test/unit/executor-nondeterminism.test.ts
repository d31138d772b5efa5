import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { NonDeterminismError } from '../../src/engine/errors.js';
import { executeOrchestration, OrchestrationExecutor } from '../../src/engine/executor.js';
import type { HistoryEvent } from '../../src/engine/history.js';
import { events } from '../../src/engine/history.js';
import { send, T0 } from './helpers/harness.js';

const app = defineApp({
  activities: { a: (n: number) => n, b: (n: number) => n },
  orchestrations: {
    async callsB(ctx) {
      return ctx.callActivity('b', 1);
    },
    async callsA(ctx) {
      return ctx.callActivity('a', 1);
    },
    async callsAThenB(ctx) {
      await ctx.callActivity('a', 1);
      return ctx.callActivity('b', 2);
    },
    async sleeps(ctx) {
      await ctx.createTimer(1000);
    },
    async retriesA(ctx) {
      return ctx.callActivity('a', 1, { retry: { maxAttempts: 3, firstRetryIntervalMs: 100 } });
    },
    async child(_ctx, n: number) {
      return Promise.resolve(n);
    },
    async callsChild(ctx) {
      return ctx.callSubOrchestration('child', 1, { instanceId: 'child-new' });
    },
    async fails(ctx) {
      await ctx.callActivity('a', 1);
      throw new Error('now it fails');
    },
  },
});

const started = (name: string): HistoryEvent => events.executionStarted({ name, input: null, generation: 0 }, T0);

async function loadError(name: string, rest: HistoryEvent[]): Promise<NonDeterminismError> {
  const executor = new OrchestrationExecutor('nd-1', app);
  try {
    await executor.load([started(name), ...rest]);
  } catch (error) {
    assert.ok(error instanceof NonDeterminismError, `expected NonDeterminismError, got ${String(error)}`);
    return error;
  }
  assert.fail('load should have thrown a NonDeterminismError');
}

describe('executor: nondeterminism', () => {
  it('detects a different activity name at a sequence number, naming the seq and both sides', async () => {
    const e = await loadError('callsB', [events.taskScheduled(0, 'a', 1, T0)]);
    assert.equal(e.code, 'NON_DETERMINISM');
    assert.equal(e.name, 'NonDeterminismError');
    assert.equal(e.instanceId, 'nd-1');
    assert.equal(e.sequence, 0);
    assert.equal(e.expected, "TaskScheduled('a')");
    assert.equal(e.actual, "callActivity('b')");
    assert.equal(
      e.message,
      "Non-deterministic orchestration nd-1: at sequence 0 the history has TaskScheduled('a'), " +
        "but the code now does callActivity('b').",
    );
  });

  it('detects an activity call where the history has a timer', async () => {
    const e = await loadError('callsA', [events.timerCreated(0, T0 + 1000, 'timer', T0)]);
    assert.equal(e.sequence, 0);
    assert.equal(e.expected, 'TimerCreated(timer)');
    assert.equal(e.actual, "callActivity('a')");
  });

  it('detects a timer where the history has an activity call', async () => {
    const e = await loadError('sleeps', [events.taskScheduled(0, 'a', 1, T0)]);
    assert.equal(e.expected, "TaskScheduled('a')");
    assert.equal(e.actual, 'createTimer()');
  });

  it('detects a retry timer where the history has a plain timer', async () => {
    const history = [
      events.taskScheduled(0, 'a', 1, T0),
      events.taskFailed(0, { name: 'Error', message: 'x' }, T0 + 1),
      events.timerCreated(1, T0 + 101, 'timer', T0 + 1),
    ];
    const e = await loadError('retriesA', history);
    assert.equal(e.sequence, 1);
    assert.equal(e.expected, 'TimerCreated(timer)');
    assert.equal(e.actual, 'a retry timer');
  });

  it('detects a different sub-orchestration instance id', async () => {
    const e = await loadError('callsChild', [
      events.subOrchestrationCreated({ seq: 0, name: 'child', instanceId: 'child-old', input: 1 }, T0),
    ]);
    assert.equal(e.expected, "SubOrchestrationCreated('child', instance child-old)");
    assert.equal(e.actual, "callSubOrchestration('child', instance child-new)");
  });

  it('detects code that schedules more than the history has', async () => {
    const e = await loadError('callsAThenB', [events.taskScheduled(0, 'a', 1, T0), events.taskCompleted(0, 1, T0 + 1)]);
    assert.equal(e.sequence, 1);
    assert.equal(e.expected, 'the end of the history');
    assert.equal(e.actual, "callActivity('b')");
  });

  it('detects code that schedules less than the history has', async () => {
    const e = await loadError('callsA', [
      events.taskScheduled(0, 'a', 1, T0),
      events.taskCompleted(0, 1, T0 + 1),
      events.taskScheduled(1, 'b', 2, T0 + 1),
    ]);
    assert.equal(e.sequence, 1);
    assert.equal(e.expected, "TaskScheduled('b')");
    assert.equal(e.actual, 'nothing');
  });

  it('detects code that completes where the history did not', async () => {
    const e = await loadError('callsA', [events.taskScheduled(0, 'a', 1, T0), events.taskCompleted(0, 1, T0 + 1)]);
    assert.equal(e.expected, 'no completion');
    assert.equal(e.actual, 'a completion (Completed)');
  });

  it('detects a history that completed where the code is still running', async () => {
    const e = await loadError('callsAThenB', [
      events.taskScheduled(0, 'a', 1, T0),
      events.taskCompleted(0, 1, T0 + 1),
      events.executionCompleted({ status: 'Completed', result: 1 }, T0 + 1),
    ]);
    assert.equal(e.expected, 'ExecutionCompleted(Completed)');
    assert.equal(e.actual, 'no completion yet');
  });

  it('detects code that now fails where the history completed', async () => {
    const e = await loadError('fails', [
      events.taskScheduled(0, 'a', 1, T0),
      events.taskCompleted(0, 1, T0 + 1),
      events.executionCompleted({ status: 'Completed', result: 1 }, T0 + 1),
    ]);
    assert.equal(e.expected, 'ExecutionCompleted(Completed)');
    assert.equal(e.actual, 'a completion (Failed)');
  });

  it('rejects a history with a second ExecutionStarted', async () => {
    const e = await loadError('callsA', [events.taskScheduled(0, 'a', 1, T0), started('callsA')]);
    assert.equal(e.code, 'NON_DETERMINISM');
  });

  it('accepts a different activity input at the same sequence number (only names and kinds must match)', async () => {
    const executor = new OrchestrationExecutor('nd-2', app);
    await executor.load([started('callsA'), events.taskScheduled(0, 'a', 'an old input', T0)]);
    const r = await executor.step([send.taskCompleted('nd-2', 0, 'ok')], T0 + 1);
    assert.equal(r.snapshot.output, 'ok');
  });

  it('rejects the pure executeOrchestration with the NonDeterminismError before producing anything', async () => {
    await assert.rejects(
      executeOrchestration(
        'nd-3',
        [started('callsB'), events.taskScheduled(0, 'a', 1, T0)],
        [send.taskCompleted('nd-3', 0, 1)],
        app,
        T0 + 1,
      ),
      (e: unknown) => e instanceof NonDeterminismError && e.sequence === 0 && e.instanceId === 'nd-3',
    );
  });
});
