import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import type { EntityContext } from '../../src/engine/entity.js';
import { Entity } from '../../src/engine/entity.js';
import { EMPTY_ENTITY, executeEntityBatch } from '../../src/engine/entity-executor.js';
import type { EntityMessage } from '../../src/engine/messages.js';
import {
  em,
  entityMessages,
  EntityHarness,
  replyTo,
  responses,
  results,
  starts,
  T0,
} from './helpers/entity-harness.js';

class Overdraft extends Error {
  override name = 'OverdraftError';
}

/** Notes go to `log@main`; every operation below signals it at least once. */
class Account extends Entity<number> {
  override initial() {
    return 100;
  }
  deposit(amount: number) {
    this.state += amount;
    this.ctx.signalEntity('log@main', 'append', `deposit ${amount}`);
    return this.state;
  }
  withdraw(amount: number) {
    this.state -= amount;
    this.ctx.signalEntity('log@main', 'append', `withdraw ${amount}`);
    this.ctx.startOrchestration('audit', { amount });
    if (this.state < 0) throw new Overdraft(`balance would be ${this.state}`);
    return this.state;
  }
  remind(delayMs: number) {
    this.ctx.signalEntity('log@main', 'append', 'later', { at: delayMs });
    this.ctx.signalEntity('log@main', 'append', 'at date', { at: new Date(T0 + 5000) });
    this.ctx.signalEntity('log@main', 'append', 'now');
  }
  audit(n: number) {
    return this.ctx.startOrchestration('audit', n);
  }
  auditNamed(id: string) {
    return this.ctx.startOrchestration('audit', 0, { instanceId: id });
  }
  auditUnknown() {
    return this.ctx.startOrchestration('nope', 0);
  }
  callOther() {
    return this.ctx.callEntity('log@main', 'append', 'x');
  }
  typed(item: string) {
    this.ctx.entity<Log>('log', 'main').append(item);
    this.ctx.entity<Log>('log', 'other').append(item);
    this.ctx.entity<Log>('log', 'main').append(`${item} again`);
  }
  storeBigInt() {
    this.state = 1n as unknown as number;
  }
  returnBigInt() {
    this.state += 1;
    this.ctx.signalEntity('log@main', 'append', 'from returnBigInt');
    return 1n;
  }
}

class Log extends Entity<string[]> {
  override initial(): string[] {
    return [];
  }
  append(item: string) {
    this.state = [...this.state, item];
  }
}

const flags = {
  initial: () => ({}) as Record<string, boolean>,
  deleteThenFail: (ctx: EntityContext<Record<string, boolean>>) => {
    ctx.deleteState();
    throw new Error('changed my mind');
  },
  createThenFail: (ctx: EntityContext<Record<string, boolean>>) => {
    ctx.setState({ created: true });
    throw new Error('not today');
  },
  async later(ctx: EntityContext<Record<string, boolean>>, flag: string) {
    await Promise.resolve();
    ctx.setState({ ...ctx.state, [flag]: true });
    return Object.keys(ctx.state).length;
  },
};

const app = defineApp({
  orchestrations: { audit: async (_ctx, input: unknown) => Promise.resolve(input) },
  entities: { account: Account, log: Log, flags },
});

const call = (op: string, input: unknown, seq: number): EntityMessage =>
  em.op('account@a', op, input, { replyTo: replyTo(seq) });

describe('entity executor: failure rollback', () => {
  it('rolls back state, signals and starts of an operation that throws after making them', async () => {
    const h = new EntityHarness('account@a', app);
    await h.run(call('deposit', 0, 0));
    const out = await h.run(call('withdraw', 500, 1));
    assert.equal(out.data.state, 100);
    assert.deepEqual(entityMessages(out.messages), []);
    assert.deepEqual(starts(out.messages), []);
    assert.equal(out.messages.length, 1, 'only the failure reply goes out');
  });

  it("replies to a failed call with the error's name and message", async () => {
    const out = await new EntityHarness('account@a', app).run(call('withdraw', 500, 3));
    const [r] = responses(out.messages);
    assert.equal(r?.seq, 3);
    assert.equal(r?.failure?.name, 'OverdraftError');
    assert.equal(r?.failure?.message, 'balance would be -400');
    assert.equal('result' in (r ?? {}), false);
  });

  it('runs the next operation of the same batch normally after a failed one', async () => {
    const out = await new EntityHarness('account@a', app).run([call('withdraw', 500, 0), call('withdraw', 30, 1)]);
    assert.deepEqual(results(out.messages), [{ failed: 'OverdraftError' }, 70]);
    assert.equal(out.data.state, 70);
    assert.equal(starts(out.messages).length, 1);
    assert.deepEqual(
      entityMessages(out.messages).map((m) => m.body.type === 'EntityOperation' && m.body.input),
      ['withdraw 30'],
    );
  });

  it("rolls back the entity's sent counters so the next signal to that target is numbered right after the last one sent", async () => {
    const h = new EntityHarness('account@a', app);
    const out = await h.run([call('deposit', 1, 0), call('withdraw', 500, 1), call('deposit', 2, 2)]);
    assert.deepEqual(
      entityMessages(out.messages).map((m) => m.body.sender),
      [
        { id: 'account@a', n: 1 },
        { id: 'account@a', n: 2 },
      ],
    );
    assert.equal(out.data.sent['log@main'], 2);
  });

  it('rolls back a deleteState of an operation that then throws', async () => {
    const h = new EntityHarness('flags@f', app);
    await h.run(em.op('flags@f', 'later', 'a'));
    const out = await h.run(em.op('flags@f', 'deleteThenFail', undefined, { replyTo: replyTo(0) }));
    assert.equal(out.data.exists, true);
    assert.deepEqual(out.data.state, { a: true });
  });

  it('leaves a new entity without state when its first operation throws after setting some', async () => {
    const out = await new EntityHarness('flags@g', app).run(em.op('flags@g', 'createThenFail'));
    assert.equal(out.data.exists, false);
    assert.equal(out.data.state, undefined);
  });

  it('awaits an async operation before running the next one', async () => {
    const out = await new EntityHarness('flags@h', app).run(
      ['x', 'y'].map((flag, seq) => em.op('flags@h', 'later', flag, { replyTo: replyTo(seq) })),
    );
    assert.deepEqual(results(out.messages), [1, 2]);
  });

  it('fails and rolls back an operation that stores a BigInt: state must be JSON', async () => {
    const h = new EntityHarness('account@a', app);
    await h.run(call('deposit', 5, 0));
    const out = await h.run(call('storeBigInt', undefined, 1));
    const [r] = responses(out.messages);
    assert.equal(r?.failure?.name, 'TypeError');
    assert.equal(out.data.state, 105);
    assert.doesNotThrow(() => JSON.stringify(out.data));
  });

  // An operation's signals join the outbox only after its result is cloned: a result that is not JSON fails the
  // operation (state and `sent` rolled back), and a signal already in the outbox would have gone out anyway.
  it('fails an operation whose result is not JSON without sending its signals', async () => {
    const h = new EntityHarness('account@a', app);
    const out = await h.run([call('returnBigInt', undefined, 0), call('deposit', 1, 1)]);
    assert.equal(responses(out.messages)[0]?.failure?.name, 'TypeError');
    assert.equal(out.data.state, 101);
    assert.deepEqual(
      entityMessages(out.messages).map((m) => m.body.type === 'EntityOperation' && [m.body.input, m.body.sender.n]),
      [['deposit 1', 1]],
    );
  });
});

describe('entity executor: signals and orchestration starts', () => {
  it('numbers signals per target entity and sends them to the target on success', async () => {
    const h = new EntityHarness('account@a', app);
    const out = await h.run([call('deposit', 1, 0), call('typed', 'x', 1)]);
    const sent = entityMessages(out.messages).map((m) => [m.instanceId, m.body.sender.n]);
    assert.deepEqual(sent, [
      ['log@main', 1],
      ['log@main', 2],
      ['log@other', 1],
      ['log@main', 3],
    ]);
    assert.deepEqual(out.data.sent, { 'log@main': 3, 'log@other': 1 });
    const later = await h.run(call('deposit', 1, 2));
    assert.equal(entityMessages(later.messages)[0]?.body.sender.n, 4, 'the counter survives across batches');
  });

  it('sends signals as EntityOperation messages without replyTo, from this entity, with deterministic ids', async () => {
    const out = await new EntityHarness('account@a', app).run(call('deposit', 1, 0));
    const [m] = entityMessages(out.messages);
    assert.deepEqual(m, {
      id: 'account@a/0/signal/0',
      queue: 'orchestrations',
      instanceId: 'log@main',
      body: { type: 'EntityOperation', operation: 'append', input: 'deposit 1', sender: { id: 'account@a', n: 1 } },
      priority: 100,
    });
  });

  it('gives scheduled signals a deliverAt and no number, and numbers only the immediate one', async () => {
    const out = await new EntityHarness('account@a', app).run(call('remind', 60_000, 0));
    const sent = entityMessages(out.messages).map((m) => ({ deliverAt: m.deliverAt, sender: m.body.sender }));
    assert.deepEqual(sent, [
      { deliverAt: T0 + 60_000, sender: { id: 'account@a' } },
      { deliverAt: T0 + 5000, sender: { id: 'account@a' } },
      { deliverAt: undefined, sender: { id: 'account@a', n: 1 } },
    ]);
  });

  it('delivers the typed signal proxy ctx.entity<T>(name, key).op(input) as a signal of op with input', async () => {
    const out = await new EntityHarness('account@a', app).run(call('typed', 'hello', 0));
    const bodies = entityMessages(out.messages).map((m) => m.body);
    assert.deepEqual(bodies[0], {
      type: 'EntityOperation',
      operation: 'append',
      input: 'hello',
      sender: { id: 'account@a', n: 1 },
    });
    assert.equal(bodies.length, 3);
  });

  it('turns startOrchestration into an ExecutionStarted message and returns its instance id', async () => {
    const out = await new EntityHarness('account@a', app).run(call('audit', 7, 0));
    const [start] = starts(out.messages);
    const [r] = responses(out.messages);
    assert.equal(typeof r?.result, 'string');
    assert.equal(start?.instanceId, r?.result);
    const incarnation = start?.incarnation;
    assert.equal(typeof incarnation, 'string', 'a new creation of the id gets its own incarnation');
    assert.deepEqual(start?.body, { type: 'ExecutionStarted', name: 'audit', input: 7, generation: 0, incarnation });
  });

  it('gives a started orchestration the same id when the same batch is replayed', async () => {
    const batch = [call('deposit', 1, 0), call('audit', 1, 1), call('audit', 2, 2)];
    const a = await executeEntityBatch('account@a', app, EMPTY_ENTITY, batch, T0);
    const b = await executeEntityBatch('account@a', app, EMPTY_ENTITY, batch, T0 + 99);
    const ids = starts(a.messages).map((m) => m.instanceId);
    assert.deepEqual(
      starts(b.messages).map((m) => m.instanceId),
      ids,
    );
    assert.notEqual(ids[0], ids[1], 'two starts get two ids');
  });

  it('uses the instance id given to startOrchestration', async () => {
    const out = await new EntityHarness('account@a', app).run(call('auditNamed', 'audit-42', 0));
    assert.equal(starts(out.messages)[0]?.instanceId, 'audit-42');
    assert.deepEqual(results(out.messages), ['audit-42']);
  });

  it('fails an operation that starts an unknown orchestration with UNKNOWN_ORCHESTRATION', async () => {
    const out = await new EntityHarness('account@a', app).run(call('auditUnknown', undefined, 0));
    assert.equal(responses(out.messages)[0]?.failure?.code, 'UNKNOWN_ORCHESTRATION');
    assert.deepEqual(starts(out.messages), []);
  });

  it('fails ctx.callEntity inside an operation with NOT_ALLOWED', async () => {
    const out = await new EntityHarness('account@a', app).run(call('callOther', undefined, 0));
    const [r] = responses(out.messages);
    assert.equal(r?.failure?.code, 'NOT_ALLOWED');
    assert.deepEqual(entityMessages(out.messages), []);
  });
});
