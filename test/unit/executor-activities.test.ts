import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { ActivityFailedError, ValidationError } from '../../src/engine/errors.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { activityRequests, failure, Harness, send, T0, types } from './helpers/harness.js';

class InventoryError extends Error {
  override name = 'InventoryError';
}

const activities = {
  double: (n: number) => n * 2,
  greet: async (who: string) => Promise.resolve(`Hello ${who}`),
  reserve: (_sku: string): boolean => true,
};

const app = defineApp({
  activities,
  orchestrations: {
    async chain(ctx, n: number) {
      const a = await ctx.callActivity('double', n);
      const b = await ctx.callActivity('double', a);
      return ctx.callActivity('double', b);
    },
    async fanOut(ctx, cities: string[]) {
      return Promise.all(cities.map((c) => ctx.callActivity('greet', c)));
    },
    async reserveOrExplain(ctx, sku: string) {
      try {
        return { ok: await ctx.callActivity('reserve', sku) };
      } catch (error) {
        if (!(error instanceof ActivityFailedError)) throw error;
        return {
          ok: false,
          isActivityFailedError: true,
          code: error.code,
          activityName: error.activityName,
          originalName: error.failure.name,
          originalMessage: error.failure.message,
          originalCode: error.failure.code,
        };
      }
    },
    async reserveOrThrow(ctx, sku: string) {
      return ctx.callActivity('reserve', sku);
    },
    async throwsAfterActivity(ctx, sku: string) {
      await ctx.callActivity('reserve', sku);
      throw new InventoryError(`sku ${sku} vanished`);
    },
    async throwsAtOnce(_ctx, _input: unknown) {
      return Promise.reject(new TypeError('bad input shape'));
    },
    async unknownActivity(ctx) {
      return ctx.callActivity('doesNotExist' as 'double', 1);
    },
    async unknownActivityCaught(ctx) {
      try {
        await ctx.callActivity('doesNotExist' as 'double', 1);
        return 'scheduled';
      } catch (error) {
        const v = error as ValidationError;
        return { isValidationError: error instanceof ValidationError, code: v.code, message: v.message };
      }
    },
  },
});

describe('executor: activities', () => {
  it('chains activities: each call is scheduled only after the previous result arrives', async () => {
    const h = new Harness('chain-1', app);
    const first = await h.start('chain', 3, T0);
    assert.deepEqual(types(first.newEvents), ['ExecutionStarted', 'TaskScheduled']);
    assert.equal(first.snapshot.status, 'Running');
    const [req] = activityRequests(first.messages);
    assert.equal(first.messages.length, 1);
    assert.deepEqual(req, {
      id: 'chain-1/0/activity/0',
      queue: 'activities',
      instanceId: 'chain-1',
      body: {
        type: 'ActivityRequest',
        name: 'double',
        input: 3,
        generation: 0,
        seq: 0,
        attempt: 1,
        idempotencyKey: 'chain-1/0/0',
      },
      priority: PRIORITY.work,
    });

    const second = await h.step(send.taskCompleted('chain-1', 0, 6), T0 + 10);
    assert.deepEqual(types(second.newEvents), ['TaskCompleted', 'TaskScheduled']);
    assert.deepEqual(
      activityRequests(second.messages).map((m) => [m.id, m.body.input]),
      [['chain-1/0/activity/1', 6]],
    );

    const third = await h.step(send.taskCompleted('chain-1', 1, 12), T0 + 20);
    assert.deepEqual(
      activityRequests(third.messages).map((m) => [m.id, m.body.input]),
      [['chain-1/0/activity/2', 12]],
    );

    const done = await h.step(send.taskCompleted('chain-1', 2, 24), T0 + 30);
    assert.deepEqual(types(done.newEvents), ['TaskCompleted', 'ExecutionCompleted']);
    assert.equal(done.messages.length, 0);
    assert.equal(done.snapshot.status, 'Completed');
    assert.equal(done.snapshot.output, 24);
    assert.deepEqual(h.history.at(-1), { type: 'ExecutionCompleted', at: T0 + 30, status: 'Completed', result: 24 });
  });

  it('fans out with Promise.all: every activity is requested in the first turn', async () => {
    const h = new Harness('fan-1', app);
    const first = await h.start('fanOut', ['Tokyo', 'Seattle', 'London']);
    assert.deepEqual(types(first.newEvents), ['ExecutionStarted', 'TaskScheduled', 'TaskScheduled', 'TaskScheduled']);
    assert.deepEqual(
      activityRequests(first.messages).map((m) => [m.id, m.body.seq, m.body.input]),
      [
        ['fan-1/0/activity/0', 0, 'Tokyo'],
        ['fan-1/0/activity/1', 1, 'Seattle'],
        ['fan-1/0/activity/2', 2, 'London'],
      ],
    );
  });

  it('fans in results that arrive in any order, one per turn, keeping the output in call order', async () => {
    const h = new Harness('fan-2', app);
    await h.start('fanOut', ['Tokyo', 'Seattle', 'London']);
    const r2 = await h.step(send.taskCompleted('fan-2', 2, 'Hello London'), T0 + 1);
    assert.equal(r2.snapshot.status, 'Running');
    assert.deepEqual(types(r2.newEvents), ['TaskCompleted']);
    const r0 = await h.step(send.taskCompleted('fan-2', 0, 'Hello Tokyo'), T0 + 2);
    assert.equal(r0.snapshot.status, 'Running');
    const r1 = await h.step(send.taskCompleted('fan-2', 1, 'Hello Seattle'), T0 + 3);
    assert.equal(r1.snapshot.status, 'Completed');
    assert.deepEqual(r1.snapshot.output, ['Hello Tokyo', 'Hello Seattle', 'Hello London']);
  });

  it('fans in results that arrive together in reverse order in a single turn', async () => {
    const h = new Harness('fan-3', app);
    await h.start('fanOut', ['a', 'b', 'c']);
    const done = await h.step(
      [send.taskCompleted('fan-3', 2, 'C'), send.taskCompleted('fan-3', 1, 'B'), send.taskCompleted('fan-3', 0, 'A')],
      T0 + 5,
    );
    assert.deepEqual(types(done.newEvents), ['TaskCompleted', 'TaskCompleted', 'TaskCompleted', 'ExecutionCompleted']);
    assert.deepEqual(
      done.newEvents.slice(0, 3).map((e) => ('seq' in e ? e.seq : -1)),
      [2, 1, 0],
    );
    assert.deepEqual(done.snapshot.output, ['A', 'B', 'C']);
  });

  it('completes at once with an empty fan-out', async () => {
    const h = new Harness('fan-4', app);
    const r = await h.start('fanOut', []);
    assert.deepEqual(types(r.newEvents), ['ExecutionStarted', 'ExecutionCompleted']);
    assert.deepEqual(r.snapshot.output, []);
  });

  it('hands an activity failure to the code as ActivityFailedError carrying the original name and message', async () => {
    const h = new Harness('fail-1', app);
    await h.start('reserveOrExplain', 'sku-9');
    const r = await h.step(
      send.taskFailed('fail-1', 0, failure('OutOfStock', 'sku-9 is out of stock', { code: 'STOCK' })),
      T0 + 1,
    );
    assert.equal(r.snapshot.status, 'Completed');
    assert.deepEqual(r.snapshot.output, {
      ok: false,
      isActivityFailedError: true,
      code: 'ACTIVITY_FAILED',
      activityName: 'reserve',
      originalName: 'OutOfStock',
      originalMessage: 'sku-9 is out of stock',
      originalCode: 'STOCK',
    });
  });

  it('fails the instance with ActivityFailedError details when the code does not catch an activity failure', async () => {
    const h = new Harness('fail-2', app);
    await h.start('reserveOrThrow', 'sku-1');
    const r = await h.step(send.taskFailed('fail-2', 0, failure('OutOfStock', 'none left')), T0 + 1);
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.failure?.name, 'ActivityFailedError');
    assert.equal(r.snapshot.failure?.code, 'ACTIVITY_FAILED');
    assert.match(r.snapshot.failure?.message ?? '', /reserve/);
    assert.match(r.snapshot.failure?.message ?? '', /OutOfStock: none left/);
    assert.equal('output' in r.snapshot, false);
  });

  it('fails the instance on an uncaught error, keeping its name, message and stack', async () => {
    const h = new Harness('fail-3', app);
    await h.start('throwsAfterActivity', 'sku-7');
    const r = await h.step(send.taskCompleted('fail-3', 0, true), T0 + 50);
    assert.equal(r.snapshot.status, 'Failed');
    const f = r.snapshot.failure;
    assert.equal(f?.name, 'InventoryError');
    assert.equal(f?.message, 'sku sku-7 vanished');
    assert.match(f?.stack ?? '', /InventoryError: sku sku-7 vanished/);
    assert.match(f?.stack ?? '', /executor-activities\.test\.ts/);
    const last = r.newEvents.at(-1);
    assert.equal(last?.type, 'ExecutionCompleted');
    assert.deepEqual(last, { type: 'ExecutionCompleted', at: T0 + 50, status: 'Failed', failure: f });
  });

  it('shows the failure recorded in history on replay, not the stack of the rerun', async () => {
    const h = new Harness('fail-3r', app);
    await h.start('throwsAfterActivity', 'sku-7');
    await h.step(send.taskCompleted('fail-3r', 0, true), T0 + 50);
    const recorded = { name: 'InventoryError', message: 'sku sku-7 vanished', stack: 'as committed by the first run' };
    const last = h.history.length - 1;
    h.history[last] = { type: 'ExecutionCompleted', at: T0 + 50, status: 'Failed', failure: recorded };
    assert.deepEqual((await h.replay()).snapshot.failure, recorded);
  });

  it('fails the instance when the code rejects before its first durable call', async () => {
    const h = new Harness('fail-4', app);
    const r = await h.start('throwsAtOnce', null);
    assert.deepEqual(types(r.newEvents), ['ExecutionStarted', 'ExecutionCompleted']);
    assert.equal(r.snapshot.failure?.name, 'TypeError');
    assert.equal(r.snapshot.failure?.message, 'bad input shape');
    assert.equal(r.messages.length, 0);
  });

  it('fails the instance with UNKNOWN_ACTIVITY when the code calls an activity that is not registered', async () => {
    const h = new Harness('unk-1', app);
    const r = await h.start('unknownActivity', null);
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.failure?.name, 'ValidationError');
    assert.equal(r.snapshot.failure?.code, 'UNKNOWN_ACTIVITY');
    assert.match(r.snapshot.failure?.message ?? '', /doesNotExist/);
    assert.equal(activityRequests(r.messages).length, 0);
    assert.deepEqual(types(r.newEvents), ['ExecutionStarted', 'ExecutionCompleted']);
  });

  it('throws the unknown-activity ValidationError synchronously so the code can catch it without scheduling', async () => {
    const h = new Harness('unk-2', app);
    const r = await h.start('unknownActivityCaught', null);
    assert.equal(r.snapshot.status, 'Completed');
    assert.deepEqual(r.snapshot.output, {
      isValidationError: true,
      code: 'UNKNOWN_ACTIVITY',
      message: "Unknown activity 'doesNotExist'.",
    });
    assert.equal(r.messages.length, 0);
  });

  it('fails an instance started with an orchestration name that is not registered', async () => {
    const h = new Harness('unk-3', app);
    const r = await h.start('noSuchOrchestration', 1);
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.name, 'noSuchOrchestration');
    assert.equal(r.snapshot.failure?.code, 'UNKNOWN_ORCHESTRATION');
    assert.match(r.snapshot.failure?.message ?? '', /noSuchOrchestration/);
    assert.deepEqual(types(r.newEvents), ['ExecutionStarted', 'ExecutionCompleted']);
  });

  it('keeps the input in the snapshot and records it in ExecutionStarted', async () => {
    const h = new Harness('in-1', app);
    const input = { nested: [1, { deep: true }] };
    const r = await h.start('reserveOrThrow', input);
    assert.deepEqual(r.snapshot.input, input);
    assert.deepEqual(r.newEvents[0], {
      type: 'ExecutionStarted',
      at: T0,
      name: 'reserveOrThrow',
      input,
      generation: 0,
    });
    assert.deepEqual(activityRequests(r.messages)[0]?.body.input, input);
  });
});
