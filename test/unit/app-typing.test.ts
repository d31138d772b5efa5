/**
 * Compile-time checks of `defineApp` typing. Each `@ts-expect-error` line must be a type error: if the
 * typing ever loosens, `tsc` reports the directive as unused and the type-check fails. The runtime part
 * makes sure the typed app also works.
 */
import assert from 'node:assert/strict';
import type { OrchestrationContext } from '../../src/engine/app.js';
import { defineApp } from '../../src/engine/app.js';
import { activityRequests, Harness, send, T0 } from './helpers/harness.js';

const activities = {
  sayHello: async (name: string) => Promise.resolve(`Hello ${name}`),
  add: (x: { a: number; b: number }) => x.a + x.b,
  ping: () => 'pong',
  maybe: (n?: number) => n ?? 0,
};

/** Never called: only compiled. Uses the context type `defineApp` gives orchestrations. */
async function typeChecks(ctx: OrchestrationContext<typeof activities>): Promise<unknown[]> {
  const sum: number = await ctx.callActivity('add', { a: 1, b: 2 });
  const greeting: string = await ctx.callActivity('sayHello', 'Tokyo');
  const pong: string = await ctx.callActivity('ping');
  const maybe: number = await ctx.callActivity('maybe');

  // @ts-expect-error wrong activity input type
  void ctx.callActivity('sayHello', 42);
  // @ts-expect-error input object missing a field
  void ctx.callActivity('add', { a: 1 });
  // @ts-expect-error unknown activity name
  void ctx.callActivity('sayGoodbye', 'Tokyo');
  // @ts-expect-error a required input cannot be left out
  void ctx.callActivity('sayHello');
  // @ts-expect-error the result of 'add' is a number, not a string
  const wrong: string = await ctx.callActivity('add', { a: 1, b: 2 });

  return [sum, greeting, pong, maybe, wrong];
}

const app = defineApp({
  activities,
  orchestrations: {
    async helloSequence(ctx, cities: string[]) {
      const out: string[] = [];
      for (const c of cities) out.push(await ctx.callActivity('sayHello', c));
      // The context defineApp infers is checked the same way.
      // @ts-expect-error unknown activity name on the inferred context
      if (cities.length < 0) void ctx.callActivity('nope', 1);
      // @ts-expect-error wrong input type on the inferred context
      if (cities.length < 0) void ctx.callActivity('add', 'one plus two');
      return out;
    },
  },
});

describe('defineApp typing', () => {
  it('keeps the declared activities and orchestrations and runs the typed orchestration', async () => {
    assert.equal(app.activities, activities);
    assert.deepEqual(Object.keys(app.orchestrations), ['helloSequence']);
    assert.equal(typeof typeChecks, 'function');

    const h = new Harness('typed-1', app);
    const r0 = await h.start('helloSequence', ['Tokyo', 'Seattle']);
    assert.deepEqual(
      activityRequests(r0.messages).map((m) => [m.body.name, m.body.input]),
      [['sayHello', 'Tokyo']],
    );
    await h.step(send.taskCompleted('typed-1', 0, 'Hello Tokyo'), T0 + 1);
    const done = await h.step(send.taskCompleted('typed-1', 1, 'Hello Seattle'), T0 + 2);
    assert.deepEqual(done.snapshot.output, ['Hello Tokyo', 'Hello Seattle']);
  });

  it('gives an app without activities an empty activity table', () => {
    const bare = defineApp({ orchestrations: { async noop() {} } });
    assert.deepEqual(bare.activities, {});
    assert.deepEqual(bare.events, {});
  });

  it('keeps the events an orchestration declares, and refuses declarations for names it does not have', () => {
    const orchestrations = { async wait() {}, async other() {} };
    assert.deepEqual(defineApp({ orchestrations, events: { wait: ['go', 'stop'] } }).events, { wait: ['go', 'stop'] });
    // @ts-expect-error events keyed by a name that is not an orchestration of the app
    assert.throws(() => defineApp({ orchestrations, events: { wiat: ['go'] } }), /'wiat' is not an orchestration/);
    // @ts-expect-error a declaration must be a list of names
    assert.throws(() => defineApp({ orchestrations, events: { wait: 'go' } }), /events\.wait must be a list/);
    assert.throws(() => defineApp({ orchestrations, events: { wait: [''] } }), /events\.wait must be a list/);
  });
});
