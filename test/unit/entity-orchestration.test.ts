import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import type { EntityContext } from '../../src/engine/entity.js';
import { Entity } from '../../src/engine/entity.js';
import { EntityOperationFailedError, NonDeterminismError, ValidationError } from '../../src/engine/errors.js';
import { OrchestrationExecutor } from '../../src/engine/executor.js';
import type { HistoryEvent } from '../../src/engine/history.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { entityMessages, entityReply, sentToEntities } from './helpers/entity-harness.js';
import { Harness, T0, types } from './helpers/harness.js';

class Counter extends Entity<number> {
  override initial() {
    return 0;
  }
  add(n: number) {
    this.state += n;
    return this.state;
  }
}

const tally = {
  initial: () => 0,
  add: (ctx: EntityContext<number>, n: number) => ctx.setState(ctx.state + n),
};

const entities = { counter: Counter, tally };

const caught = (error: unknown) => {
  const e = error as ValidationError;
  return { isValidationError: error instanceof ValidationError, code: e.code, message: e.message };
};

const app = defineApp({
  entities,
  orchestrations: {
    async sequence(ctx) {
      const a: number = await ctx.callEntity('counter@k', 'add', 1);
      const b: number = await ctx.callEntity('counter@k', 'add', 2);
      const c: number = await ctx.callEntity('counter@k', 'add', 3);
      return [a, b, c];
    },
    async fanOut(ctx) {
      return Promise.all([
        ctx.callEntity('counter@k', 'add', 1),
        ctx.callEntity('tally@k', 'add', 1),
        ctx.callEntity('counter@k', 'add', 2),
      ]);
    },
    async failing(ctx) {
      try {
        return await ctx.callEntity('counter@k', 'withdraw', 5);
      } catch (error) {
        const e = error as EntityOperationFailedError;
        return {
          isEntityOperationFailedError: error instanceof EntityOperationFailedError,
          code: e.code,
          entityId: e.entityId,
          operation: e.operation,
          originalName: e.failure.name,
          originalMessage: e.failure.message,
        };
      }
    },
    async signals(ctx) {
      ctx.signalEntity('counter@k', 'add', 1);
      ctx.signalEntity('counter@k', 'add', 2, { at: 60_000 });
      ctx.signalEntity('counter@k', 'add', 3, { at: new Date(T0 + 5000) });
      const r: number = await ctx.callEntity('counter@k', 'add', 4);
      return r;
    },
    async typedCall(ctx) {
      const n: number = await ctx.entity<Counter>('counter', 'k').add(5);
      const m = await ctx.entity<typeof tally>('tally', 'k').add(2);
      return [n, m];
    },
    async unknownEntity(ctx) {
      try {
        await ctx.callEntity('ghost@k', 'add', 1);
        return 'scheduled';
      } catch (error) {
        return caught(error);
      }
    },
    async malformedIds(ctx) {
      const out = [];
      for (const id of ['no-at-sign', '@key', 'counter@', 'bad name@k', 'counter@bad key']) {
        try {
          await ctx.callEntity(id, 'add', 1);
          out.push('scheduled');
        } catch (error) {
          out.push(caught(error).code);
        }
      }
      return out;
    },
    async typedUnknownEntity(ctx) {
      try {
        await ctx.entity<Counter>('ghost', 'k').add(1);
        return 'scheduled';
      } catch (error) {
        return caught(error);
      }
    },
  },
});

/** The same orchestration names, whose code now asks for something else. */
const changed = defineApp({
  entities,
  orchestrations: {
    async sequence(ctx) {
      await ctx.callEntity('counter@k', 'add', 1);
      return ctx.callEntity('counter@other', 'add', 2);
    },
    async signals(ctx) {
      ctx.signalEntity('counter@k', 'reset');
      return Promise.resolve(0);
    },
  },
});

const response = (h: Harness, seq: number, result: unknown) => entityReply.response(h.instanceId, seq, { result });

describe('orchestration: callEntity', () => {
  it('records EntityCalled and sends an EntityOperation with replyTo and n=1', async () => {
    const h = new Harness('seq-1', app);
    const first = await h.start('sequence', undefined);
    assert.deepEqual(types(first.newEvents), ['ExecutionStarted', 'EntityCalled']);
    assert.deepEqual(first.newEvents[1], {
      type: 'EntityCalled',
      at: T0,
      seq: 0,
      entityId: 'counter@k',
      operation: 'add',
      input: 1,
    });
    assert.deepEqual(first.messages, [
      {
        id: 'seq-1/0/entity/0',
        queue: 'orchestrations',
        instanceId: 'counter@k',
        body: {
          type: 'EntityOperation',
          operation: 'add',
          input: 1,
          sender: { id: 'seq-1/0', n: 1 },
          replyTo: { instanceId: 'seq-1', generation: 0, seq: 0 },
        },
        priority: PRIORITY.work,
      },
    ]);
  });

  it('numbers the calls to one entity 1, 2, 3 and resolves each call with its EntityResponse result', async () => {
    const h = new Harness('seq-2', app);
    const ns: unknown[] = [];
    const collect = (messages: Parameters<typeof entityMessages>[0]) =>
      ns.push(...entityMessages(messages).map((m) => m.body.sender.n));
    collect((await h.start('sequence', undefined)).messages);
    collect((await h.step(response(h, 0, 1), T0 + 1)).messages);
    collect((await h.step(response(h, 1, 3), T0 + 2)).messages);
    const last = await h.step(response(h, 2, 6), T0 + 3);
    assert.deepEqual(ns, [1, 2, 3]);
    assert.equal(last.snapshot.status, 'Completed');
    assert.deepEqual(last.snapshot.output, [1, 3, 6]);
    assert.deepEqual(
      types(h.history).filter((t) => t.startsWith('Entity')),
      ['EntityCalled', 'EntityResponded', 'EntityCalled', 'EntityResponded', 'EntityCalled', 'EntityResponded'],
    );
  });

  it('numbers calls per entity: two entities called at once each start at n=1', async () => {
    const h = new Harness('fan-1', app);
    const first = await h.start('fanOut', undefined);
    assert.deepEqual(
      sentToEntities(first.messages).map((m) => [m.to, m.n, m.replyTo]),
      [
        ['counter@k', 1, 0],
        ['tally@k', 1, 1],
        ['counter@k', 2, 2],
      ],
    );
    const done = await h.step([response(h, 2, 3), response(h, 0, 1), response(h, 1, 1)], T0 + 1);
    assert.deepEqual(done.snapshot.output, [1, 1, 3]);
  });

  it('rejects a failed call with EntityOperationFailedError carrying the original name and message', async () => {
    const h = new Harness('fail-1', app);
    await h.start('failing', undefined);
    const failure = { name: 'UnknownOperationError', code: 'UNKNOWN_OPERATION', message: 'no withdraw' };
    const done = await h.step(entityReply.response(h.instanceId, 0, { failure }), T0 + 1);
    assert.deepEqual(done.snapshot.output, {
      isEntityOperationFailedError: true,
      code: 'ENTITY_OPERATION_FAILED',
      entityId: 'counter@k',
      operation: 'withdraw',
      originalName: 'UnknownOperationError',
      originalMessage: 'no withdraw',
    });
    assert.equal(h.history.find((e) => e.type === 'EntityResponded' && e.failure)?.type, 'EntityResponded');
  });

  it('drops a duplicate EntityResponse', async () => {
    const h = new Harness('dup-1', app);
    await h.start('sequence', undefined);
    const reply = response(h, 0, 1);
    const first = await h.step(reply, T0 + 1);
    const again = await h.step([reply, response(h, 0, 999)], T0 + 2);
    assert.deepEqual(types(first.newEvents), ['EntityResponded', 'EntityCalled']);
    assert.deepEqual(again.newEvents, []);
    assert.deepEqual(again.messages, []);
    assert.equal(again.dropped.length, 2);
  });

  it('replays the history of entity calls to the same snapshot, mid-way and after completion', async () => {
    const h = new Harness('rep-1', app);
    await h.start('sequence', undefined);
    await h.step(response(h, 0, 1), T0 + 1);
    const mid = await h.replay();
    assert.deepEqual(mid.snapshot, h.executor.snapshot);
    await h.step(response(h, 1, 3), T0 + 2);
    await h.step(response(h, 2, 6), T0 + 3);
    const fresh = await h.replay();
    assert.deepEqual(fresh.snapshot, h.executor.snapshot);
    assert.equal(fresh.snapshot.status, 'Completed');
  });

  it('continues a replayed executor with the next number for the entity', async () => {
    const h = new Harness('rep-2', app);
    await h.start('sequence', undefined);
    await h.step(response(h, 0, 1), T0 + 1);
    const fresh = await h.replay();
    const next = await fresh.step([response(h, 1, 3)], T0 + 2);
    assert.deepEqual(
      sentToEntities(next.messages).map((m) => m.n),
      [3],
    );
  });

  const nonDeterminism = async (history: HistoryEvent[]): Promise<NonDeterminismError> => {
    const fresh = new OrchestrationExecutor('nd', changed);
    try {
      await fresh.load(history);
    } catch (error) {
      assert.ok(error instanceof NonDeterminismError, `expected NonDeterminismError, got ${String(error)}`);
      return error;
    }
    return assert.fail('load should have thrown a NonDeterminismError');
  };

  it('throws NonDeterminismError on replay when the code calls a different entity at a recorded sequence', async () => {
    const h = new Harness('nd', app);
    await h.start('sequence', undefined);
    await h.step(response(h, 0, 1), T0 + 1);
    const error = await nonDeterminism(h.history);
    assert.equal(error.sequence, 1);
  });

  it('throws NonDeterminismError on replay when the code signals a different operation', async () => {
    const h = new Harness('nd', app);
    await h.start('signals', undefined);
    const error = await nonDeterminism(h.history);
    assert.equal(error.sequence, 0);
  });

  it('throws an UNKNOWN_ENTITY ValidationError from ctx.callEntity for an unregistered entity name, sending nothing', async () => {
    const h = new Harness('unk-1', app);
    const out = await h.start('unknownEntity', undefined);
    assert.deepEqual(entityMessages(out.messages), []);
    const result = out.snapshot.output as ReturnType<typeof caught>;
    assert.equal(result.isValidationError, true);
    assert.equal(result.code, 'UNKNOWN_ENTITY');
    assert.match(result.message, /ghost/);
  });

  it('rejects malformed entity ids with VALIDATION', async () => {
    const out = await new Harness('bad-1', app).start('malformedIds', undefined);
    assert.deepEqual(out.snapshot.output, Array(5).fill('VALIDATION'));
    assert.deepEqual(entityMessages(out.messages), []);
  });

  it('rejects a typed proxy for an unregistered entity name with UNKNOWN_ENTITY', async () => {
    const out = await new Harness('unk-2', app).start('typedUnknownEntity', undefined);
    assert.equal((out.snapshot.output as ReturnType<typeof caught>).code, 'UNKNOWN_ENTITY');
  });
});

describe('orchestration: signalEntity', () => {
  it('records EntitySignaled and sends a message without replyTo; with at it has deliverAt and no n', async () => {
    const h = new Harness('sig-1', app);
    const out = await h.start('signals', undefined);
    assert.deepEqual(types(out.newEvents), [
      'ExecutionStarted',
      'EntitySignaled',
      'EntitySignaled',
      'EntitySignaled',
      'EntityCalled',
    ]);
    assert.equal((out.newEvents[2] as { deliverAt?: number }).deliverAt, T0 + 60_000);
    assert.equal('deliverAt' in (out.newEvents[1] ?? {}), false);
    assert.deepEqual(sentToEntities(out.messages), [
      { to: 'counter@k', type: 'EntityOperation', n: 1, operation: 'add', input: 1 },
      { to: 'counter@k', type: 'EntityOperation', n: undefined, operation: 'add', input: 2, deliverAt: T0 + 60_000 },
      { to: 'counter@k', type: 'EntityOperation', n: undefined, operation: 'add', input: 3, deliverAt: T0 + 5000 },
      { to: 'counter@k', type: 'EntityOperation', n: 2, operation: 'add', input: 4, replyTo: 3 },
    ]);
    const scheduled = entityMessages(out.messages)[1];
    assert.equal(scheduled !== undefined && 'n' in scheduled.body.sender, false, 'no n key at all');
  });

  it('does not wait for a signal: the orchestration completes with the call result alone', async () => {
    const h = new Harness('sig-2', app);
    await h.start('signals', undefined);
    const done = await h.step(response(h, 3, 10), T0 + 1);
    assert.equal(done.snapshot.status, 'Completed');
    assert.equal(done.snapshot.output, 10);
    assert.deepEqual((await h.replay()).snapshot, done.snapshot);
  });
});

describe('orchestration: typed entity call proxy', () => {
  it("sends ctx.entity<Counter>('counter', 'k').add(5) as operation add with input 5 and resolves its result", async () => {
    const h = new Harness('typed-1', app);
    const first = await h.start('typedCall', undefined);
    assert.deepEqual(sentToEntities(first.messages), [
      { to: 'counter@k', type: 'EntityOperation', n: 1, operation: 'add', input: 5, replyTo: 0 },
    ]);
    const second = await h.step(response(h, 0, 5), T0 + 1);
    assert.deepEqual(sentToEntities(second.messages), [
      { to: 'tally@k', type: 'EntityOperation', n: 1, operation: 'add', input: 2, replyTo: 1 },
    ]);
    const done = await h.step(response(h, 1, undefined), T0 + 2);
    assert.deepEqual(done.snapshot.output, [5, undefined]);
  });
});
