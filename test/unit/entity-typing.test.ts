/**
 * Compile-time checks of the typed entity proxies. Each `@ts-expect-error` line must be a type error: if the
 * typing ever loosens, `tsc` reports the directive as unused and the type-check fails. The runtime part checks
 * that the same proxies send what they say.
 */
import assert from 'node:assert/strict';
import type { OrchestrationContext } from '../../src/engine/app.js';
import { defineApp } from '../../src/engine/app.js';
import type { EntityCallProxy, EntityContext, EntityOperations, EntitySignalProxy } from '../../src/engine/entity.js';
import { Entity } from '../../src/engine/entity.js';
import type { DurableTask } from '../../src/engine/task.js';
import { em, EntityHarness, entityReply, sentToEntities } from './helpers/entity-harness.js';
import { Harness, T0 } from './helpers/harness.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(check: Equal<A, B>): boolean => check;

class Counter extends Entity<number> {
  override initial() {
    return 0;
  }
  add(n: number) {
    this.state += n;
    return this.state;
  }
  async label(prefix: string): Promise<string> {
    return Promise.resolve(`${prefix}${this.state}`);
  }
  _internal() {
    return 'hidden';
  }
}

const tally = {
  initial: () => 0,
  add: (ctx: EntityContext<number>, n: number) => {
    ctx.setState(ctx.state + n);
    return ctx.state;
  },
  get: (ctx: EntityContext<number>) => ctx.state,
};

/** Never called: only compiled. */
async function orchestrationTypeChecks(ctx: OrchestrationContext): Promise<unknown[]> {
  const counter = ctx.entity<Counter>('counter', 'k');
  const n: number = await counter.add(5);
  const label: string = await counter.label('#');
  const t: number = await ctx.entity<typeof tally>('tally', 'k').add(1);
  const g: number = await ctx.entity<typeof tally>('tally', 'k').get();

  // @ts-expect-error unknown operation on a class-style entity
  void counter.subtract(1);
  // @ts-expect-error wrong input type on a class-style entity
  void counter.add('five');
  // @ts-expect-error methods starting with _ are not operations
  void counter._internal();
  // @ts-expect-error base members are not operations
  void counter.initial();
  // @ts-expect-error base members are not operations
  void counter.state;
  // @ts-expect-error unknown operation on an object-style entity
  void ctx.entity<typeof tally>('tally', 'k').remove();
  // @ts-expect-error wrong input type on an object-style entity
  void ctx.entity<typeof tally>('tally', 'k').add('one');
  // @ts-expect-error initial is not an operation of an object-style entity
  void ctx.entity<typeof tally>('tally', 'k').initial();
  // @ts-expect-error the result of add is a number
  const wrong: string = await counter.add(1);
  return [n, label, t, g, wrong];
}

/** Never called: only compiled. */
function entityTypeChecks(ctx: EntityContext<number>): void {
  ctx.entity<Counter>('counter', 'k').add(1);
  ctx.entity<typeof tally>('tally', 'k').add(2);
  // @ts-expect-error unknown operation on the signal proxy (class-style)
  ctx.entity<Counter>('counter', 'k').subtract(1);
  // @ts-expect-error wrong input type on the signal proxy (class-style)
  ctx.entity<Counter>('counter', 'k').add('1');
  // @ts-expect-error unknown operation on the signal proxy (object-style)
  ctx.entity<typeof tally>('tally', 'k').remove();
  // @ts-expect-error wrong input type on the signal proxy (object-style)
  ctx.entity<typeof tally>('tally', 'k').add(true);
}

const app = defineApp({
  entities: { counter: Counter, tally },
  orchestrations: {
    async typed(ctx) {
      const n = await ctx.entity<Counter>('counter', 'k').add(5);
      const label = await ctx.entity<Counter>('counter', 'k').label('#');
      return { n, label };
    },
  },
});

const forwarder = {
  forward: (ctx: EntityContext<null>, n: number) => {
    ctx.entity<Counter>('counter', 'k').add(n);
    ctx.entity<typeof tally>('tally', 'k').add(n * 2);
  },
};
const forwardingApp = defineApp({ orchestrations: {}, entities: { counter: Counter, tally, forwarder } });

describe('entity proxy typing', () => {
  it('gives class and object entities the same operation signatures and typed call/signal proxies', () => {
    assert.equal(typeof orchestrationTypeChecks, 'function');
    assert.equal(typeof entityTypeChecks, 'function');
    assert.ok(same<keyof EntityOperations<Counter>, 'add' | 'label'>(true));
    assert.ok(same<keyof EntityOperations<typeof Counter>, 'add' | 'label'>(true));
    assert.ok(same<keyof EntityOperations<typeof tally>, 'add' | 'get'>(true));
    assert.ok(same<EntityCallProxy<Counter>['add'], (n: number) => DurableTask<number>>(true));
    assert.ok(same<EntityCallProxy<Counter>['label'], (prefix: string) => DurableTask<string>>(true));
    assert.ok(same<EntityCallProxy<typeof tally>['get'], () => DurableTask<number>>(true));
    assert.ok(same<EntitySignalProxy<typeof tally>['add'], (n: number) => void>(true));
  });

  it('sends the operations the typed call proxy names, with their inputs, and resolves their results', async () => {
    const h = new Harness('typed-1', app);
    const first = await h.start('typed', undefined);
    assert.deepEqual(sentToEntities(first.messages), [
      { to: 'counter@k', type: 'EntityOperation', n: 1, operation: 'add', input: 5, replyTo: 0 },
    ]);
    const second = await h.step(entityReply.response(h.instanceId, 0, { result: 5 }), T0 + 1);
    assert.deepEqual(sentToEntities(second.messages), [
      { to: 'counter@k', type: 'EntityOperation', n: 2, operation: 'label', input: '#', replyTo: 1 },
    ]);
    const done = await h.step(entityReply.response(h.instanceId, 1, { result: '#5' }), T0 + 2);
    assert.deepEqual(done.snapshot.output, { n: 5, label: '#5' });
  });

  it('is not a thenable: awaiting the proxy itself does not call an operation named then', async () => {
    const probe = defineApp({
      entities: { counter: Counter },
      orchestrations: {
        async awaitProxy(ctx) {
          const proxy = ctx.entity<Counter>('counter', 'k');
          const awaited = await (proxy as unknown as Promise<unknown>);
          return awaited === proxy;
        },
      },
    });
    const out = await new Harness('typed-2', probe).start('awaitProxy', undefined);
    assert.equal(out.snapshot.output, true);
    assert.deepEqual(sentToEntities(out.messages), []);
  });

  it('sends what the typed signal proxy names from inside an entity', async () => {
    const out = await new EntityHarness('forwarder@f', forwardingApp).run(em.op('forwarder@f', 'forward', 3));
    assert.deepEqual(
      sentToEntities(out.messages).map((m) => [m.to, m.operation, m.input, m.n]),
      [
        ['counter@k', 'add', 3, 1],
        ['tally@k', 'add', 6, 1],
      ],
    );
  });
});
