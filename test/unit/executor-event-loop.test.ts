import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { Harness, send, T0 } from './helpers/harness.js';

const app = defineApp({
  activities: { work: (n: number) => n },
  orchestrations: {
    async raceTwo(ctx) {
      const first = await Promise.race([ctx.callActivity('work', 1), ctx.callActivity('work', 2)]);
      return first;
    },
  },
});

describe('executor: yielding to the event loop', () => {
  it('drains orchestration code with the injected yieldToEventLoop', async () => {
    let yields = 0;
    const h = new Harness('y1', app, {
      yieldToEventLoop: () =>
        new Promise((resolve) => {
          yields++;
          setTimeout(resolve, 0);
        }),
    });
    await h.start('raceTwo', null);
    const r = await h.step([send.taskCompleted('y1', 1, 'second'), send.taskCompleted('y1', 0, 'first')], T0 + 1);
    assert.equal(r.snapshot.output, 'second', 'the race still settles in history order');
    assert.ok(yields >= 2, `the executor yielded through the injected function (${yields} times)`);
  });

  it('drains by default where the host has no setImmediate', async () => {
    const host = globalThis as { setImmediate?: unknown };
    const saved = host.setImmediate;
    delete host.setImmediate;
    try {
      const h = new Harness('y2', app);
      await h.start('raceTwo', null);
      const r = await h.step(send.taskCompleted('y2', 0, 'first'), T0 + 1);
      assert.equal(r.snapshot.output, 'first');
    } finally {
      host.setImmediate = saved;
    }
  });
});
