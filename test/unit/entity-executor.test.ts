import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import type { EntityContext } from '../../src/engine/entity.js';
import { Entity } from '../../src/engine/entity.js';
import { EMPTY_ENTITY, executeEntityBatch } from '../../src/engine/entity-executor.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { CALLER, em, EntityHarness, replyTo, responses, results, T0 } from './helpers/entity-harness.js';

const counter = {
  initial: () => 0,
  add: (ctx: EntityContext<number>, n: number) => ctx.setState(ctx.state + n),
  get: (ctx: EntityContext<number>) => ctx.state,
  exists: (ctx: EntityContext<number>) => ctx.hasState,
  remove: (ctx: EntityContext<number>) => ctx.deleteState(),
  whoAmI: (ctx: EntityContext<number>) => ({ id: ctx.id, name: ctx.name, key: ctx.key, operation: ctx.operation }),
};

class Counter extends Entity<number> {
  override initial() {
    return 0;
  }
  add(n: number) {
    this.state += n;
    return this.state;
  }
  get() {
    return this.state;
  }
  _hidden() {
    return 'hidden';
  }
  get doubled() {
    return this.state * 2;
  }
}

/** Records every operation it runs, to observe the order operations are applied in. */
class Log extends Entity<string[]> {
  override initial(): string[] {
    return [];
  }
  append(item: string) {
    this.state = [...this.state, item];
    return this.state.length;
  }
}

const app = defineApp({ orchestrations: {}, entities: { counter, klass: Counter, log: Log } });

describe('entity executor: operations and state', () => {
  it('creates an object-style entity from initial() on its first operation and applies it', async () => {
    const h = new EntityHarness('counter@a', app);
    const out = await h.run(em.op('counter@a', 'add', 5));
    assert.equal(out.data.exists, true);
    assert.equal(out.data.state, 5);
    assert.equal(out.data.operations, 1);
    assert.equal(out.data.lastModified, T0);
    assert.equal(out.changed, true);
    const read = await h.run(em.op('counter@a', 'get', undefined, { replyTo: replyTo(3) }));
    assert.deepEqual(results(read.messages), [5]);
  });

  it('creates a class-style entity from initial() and gives the method its result and this.state', async () => {
    const h = new EntityHarness('klass@a', app);
    const out = await h.run([
      em.op('klass@a', 'add', 2, { replyTo: replyTo(0) }),
      em.op('klass@a', 'add', 3, { replyTo: replyTo(1) }),
    ]);
    assert.deepEqual(results(out.messages), [2, 5]);
    assert.equal(out.data.state, 5);
    assert.equal(out.data.exists, true);
  });

  it('gives an operation its entity id, name, key and operation name', async () => {
    const out = await executeEntityBatch(
      'counter@k:1@x',
      app,
      EMPTY_ENTITY,
      [em.op('counter@k:1@x', 'whoAmI', undefined, { replyTo: replyTo(0) })],
      T0,
    );
    assert.deepEqual(results(out.messages), [
      { id: 'counter@k:1@x', name: 'counter', key: 'k:1@x', operation: 'whoAmI' },
    ]);
  });

  it('reports hasState false before anything is stored and true once an operation stored state', async () => {
    const h = new EntityHarness('counter@b', app);
    // The first operation creates the state from initial() before it runs, so it already sees hasState.
    const first = await h.run(em.op('counter@b', 'exists', undefined, { replyTo: replyTo(0) }));
    assert.deepEqual(results(first.messages), [true]);
    assert.equal(first.data.exists, true);
    assert.equal(first.data.state, 0);
  });

  it('deleteState makes exists false and removes the state; the next operation starts again from initial()', async () => {
    const h = new EntityHarness('counter@c', app);
    await h.run(em.op('counter@c', 'add', 7));
    const removed = await h.run(em.op('counter@c', 'remove'));
    assert.equal(removed.data.exists, false);
    assert.equal(removed.data.state, undefined);
    const again = await h.run(em.op('counter@c', 'add', 1, { replyTo: replyTo(0) }));
    assert.equal(again.data.state, 1);
  });

  it('rejects a class method starting with _ as UNKNOWN_OPERATION', async () => {
    const out = await new EntityHarness('klass@u', app).run(
      em.op('klass@u', '_hidden', undefined, { replyTo: replyTo(0) }),
    );
    const [r] = responses(out.messages);
    assert.equal(r?.failure?.code, 'UNKNOWN_OPERATION');
    assert.equal(r?.failure?.name, 'UnknownOperationError');
    assert.equal(out.data.exists, false, 'an unknown operation creates no state');
  });

  for (const op of ['initial', 'constructor', 'ctx', '__ctx']) {
    it(`rejects the base member '${op}' of a class-style entity as UNKNOWN_OPERATION`, async () => {
      const out = await new EntityHarness('klass@u', app).run(em.op('klass@u', op, undefined, { replyTo: replyTo(0) }));
      assert.equal(responses(out.messages)[0]?.failure?.code, 'UNKNOWN_OPERATION');
    });
  }

  // Looking an operation up must not read `definition.prototype[operation]`: that runs the inherited `state` getter
  // on the prototype (no __ctx), and its TypeError would escape executeEntityBatch: one bad signal, a lost batch.
  it("rejects the base member 'state' of a class-style entity as UNKNOWN_OPERATION instead of crashing the batch", async () => {
    const out = await new EntityHarness('klass@u', app).run([
      em.op('klass@u', 'state', undefined, { replyTo: replyTo(0) }),
      em.op('klass@u', 'add', 1, { replyTo: replyTo(1) }),
    ]);
    assert.deepEqual(results(out.messages), [{ failed: 'UNKNOWN_OPERATION' }, 1]);
  });

  // Same cause: a getter declared by the entity class itself must not run on the prototype.
  it('rejects a getter of a class-style entity as UNKNOWN_OPERATION instead of crashing the batch', async () => {
    const out = await new EntityHarness('klass@u', app).run(
      em.op('klass@u', 'doubled', undefined, { replyTo: replyTo(0) }),
    );
    assert.deepEqual(results(out.messages), [{ failed: 'UNKNOWN_OPERATION' }]);
  });

  // The lookup stops below Object.prototype: toString/hasOwnProperty/valueOf are not operations.
  for (const op of ['toString', 'hasOwnProperty', 'valueOf']) {
    it(`rejects the Object.prototype member '${op}' of a class-style entity as UNKNOWN_OPERATION`, async () => {
      const out = await new EntityHarness('klass@u', app).run(em.op('klass@u', op, undefined, { replyTo: replyTo(0) }));
      assert.equal(responses(out.messages)[0]?.failure?.code, 'UNKNOWN_OPERATION');
      assert.equal(out.data.exists, false);
    });
  }

  it("rejects an object-style entity's initial and inherited Object members as UNKNOWN_OPERATION", async () => {
    const h = new EntityHarness('counter@u', app);
    const out = await h.run(
      ['initial', 'toString', 'nope'].map((op, seq) => em.op('counter@u', op, undefined, { replyTo: replyTo(seq) })),
    );
    assert.deepEqual(results(out.messages), Array(3).fill({ failed: 'UNKNOWN_OPERATION' }));
  });

  it('replies UNKNOWN_ENTITY to a call on an entity name that is not registered', async () => {
    const out = await new EntityHarness('ghost@a', app).run(em.op('ghost@a', 'add', 1, { replyTo: replyTo(4) }));
    const [r] = responses(out.messages);
    assert.equal(r?.failure?.code, 'UNKNOWN_ENTITY');
    assert.equal(r?.failure?.name, 'UnknownEntityError');
    assert.match(r?.failure?.message ?? '', /ghost/);
  });

  it('addresses a call reply to the caller with id <caller>/<gen>/entity-result/<seq> at reply priority', async () => {
    const out = await new EntityHarness('counter@r', app).run(
      em.op('counter@r', 'get', undefined, { replyTo: { instanceId: 'orch-9', generation: 2, seq: 7 } }),
    );
    assert.equal(out.messages.length, 1);
    assert.deepEqual(out.messages[0], {
      id: 'orch-9/2/entity-result/7',
      queue: 'orchestrations',
      instanceId: 'orch-9',
      body: { type: 'EntityResponse', generation: 2, seq: 7, result: 0 },
      priority: PRIORITY.reply,
    });
  });

  it('sends no reply for a signal, not even when it fails', async () => {
    const h = new EntityHarness('counter@s', app);
    const ok = await h.run(em.op('counter@s', 'add', 1));
    const bad = await h.run(em.op('counter@s', 'nope', 1));
    assert.deepEqual(ok.messages, []);
    assert.deepEqual(bad.messages, []);
    assert.equal(h.data.state, 1);
  });
});

describe('entity executor: ordering and deduplication', () => {
  const from = `${CALLER}/0`;

  it('applies numbered messages from one sender in n order when the batch has them reversed', async () => {
    const h = new EntityHarness('log@o', app);
    const out = await h.run([3, 2, 1].map((n) => em.op('log@o', 'append', `m${n}`, { from, n })));
    assert.deepEqual(out.data.state, ['m1', 'm2', 'm3']);
    assert.deepEqual(out.data.early, []);
    assert.equal(out.data.senders[from]?.n, 3);
  });

  it('holds early messages in data.early across batches until the gap fills', async () => {
    const h = new EntityHarness('log@o', app);
    const first = await h.run([
      em.op('log@o', 'append', 'm3', { from, n: 3 }),
      em.op('log@o', 'append', 'm2', { from, n: 2 }),
    ]);
    assert.equal(first.data.exists, false, 'nothing runs before message 1');
    assert.deepEqual(
      first.data.early.map((m) => m.body.sender.n),
      [3, 2],
    );
    assert.equal(first.changed, true);
    const second = await h.run(em.op('log@o', 'append', 'm1', { from, n: 1 }));
    assert.deepEqual(second.data.state, ['m1', 'm2', 'm3']);
    assert.deepEqual(second.data.early, []);
  });

  it('drops a numbered message whose n was already applied and lists it in dropped', async () => {
    const h = new EntityHarness('log@d', app);
    await h.run([1, 2].map((n) => em.op('log@d', 'append', `m${n}`, { from, n })));
    const again = em.op('log@d', 'append', 'again', { from, n: 2 });
    const out = await h.run(again);
    assert.deepEqual(out.dropped, [again]);
    assert.deepEqual(out.data.state, ['m1', 'm2']);
    assert.equal(out.changed, false);
  });

  it('drops a second copy of an early message (same id) and applies it only once', async () => {
    const h = new EntityHarness('log@d', app);
    const early = em.op('log@d', 'append', 'm2', { from, n: 2, id: 'early-2' });
    await h.run(early);
    const out = await h.run([early, em.op('log@d', 'append', 'm1', { from, n: 1 })]);
    assert.deepEqual(out.dropped, [early]);
    assert.deepEqual(out.data.state, ['m1', 'm2']);
  });

  it('drops an unnumbered message whose id was already applied', async () => {
    const h = new EntityHarness('counter@u', app);
    const signal = em.op('counter@u', 'add', 5, { from: 'client', id: 'client-signal-1' });
    await h.run(signal);
    const out = await h.run([signal, signal]);
    assert.deepEqual(out.dropped, [signal, signal]);
    assert.equal(out.data.state, 5);
    assert.equal(out.changed, false);
  });

  it('applies unnumbered messages with different ids even with the same content', async () => {
    const h = new EntityHarness('counter@u', app);
    const out = await h.run([
      em.op('counter@u', 'add', 5, { from: 'client' }),
      em.op('counter@u', 'add', 5, { from: 'client' }),
    ]);
    assert.equal(out.data.state, 10);
  });

  it('does not let a gap in one sender block another sender', async () => {
    const h = new EntityHarness('log@i', app);
    const out = await h.run([
      em.op('log@i', 'append', 'a2', { from: 'a/0', n: 2 }),
      em.op('log@i', 'append', 'b1', { from: 'b/0', n: 1 }),
      em.op('log@i', 'append', 'b2', { from: 'b/0', n: 2 }),
    ]);
    assert.deepEqual(out.data.state, ['b1', 'b2']);
    assert.deepEqual(
      out.data.early.map((m) => m.body.sender),
      [{ id: 'a/0', n: 2 }],
    );
  });

  it('numbers each sender independently: n=1 from a second sender is not a duplicate', async () => {
    const h = new EntityHarness('log@i', app);
    await h.run(em.op('log@i', 'append', 'a1', { from: 'a/0', n: 1 }));
    const out = await h.run(em.op('log@i', 'append', 'a1-next-gen', { from: 'a/1', n: 1 }));
    assert.deepEqual(out.dropped, []);
    assert.deepEqual(out.data.state, ['a1', 'a1-next-gen']);
  });
});

describe('entity executor: batching', () => {
  it('runs many operations of one batch one at a time, each seeing the state the previous one left', async () => {
    const h = new EntityHarness('klass@b', app);
    const out = await h.run([1, 2, 3, 4].map((n, seq) => em.op('klass@b', 'add', n, { replyTo: replyTo(seq) })));
    assert.deepEqual(results(out.messages), [1, 3, 6, 10]);
    assert.equal(out.data.state, 10);
    assert.equal(out.data.operations, 4);
    assert.deepEqual(
      responses(out.messages).map((r) => r.seq),
      [0, 1, 2, 3],
    );
  });

  it('returns changed false and the same data when the batch holds only duplicates', async () => {
    const h = new EntityHarness('counter@b', app);
    const numbered = em.op('counter@b', 'add', 1, { n: 1 });
    const unnumbered = em.op('counter@b', 'add', 1, { from: 'client' });
    const first = await h.run([numbered, unnumbered]);
    const second = await h.run([numbered, unnumbered], T0 + 1000);
    assert.equal(second.changed, false);
    assert.deepEqual(second.data, first.data);
    assert.deepEqual(second.messages, []);
    assert.equal(second.dropped.length, 2);
  });

  it('does not mutate the stored data it is given', async () => {
    const stored = JSON.parse(JSON.stringify(EMPTY_ENTITY)) as typeof EMPTY_ENTITY;
    const snapshot = JSON.stringify(stored);
    await executeEntityBatch('counter@p', app, stored, [em.op('counter@p', 'add', 3, { n: 1 })], T0);
    assert.equal(JSON.stringify(stored), snapshot);
  });
});
