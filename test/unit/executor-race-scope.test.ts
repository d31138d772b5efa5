import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { Harness, send, T0, timerMessages } from './helpers/harness.js';

// Taken when this file loads, before any executor in it runs; compared by identity, never called.
/* eslint-disable @typescript-eslint/unbound-method */
const originalRace = Promise.race;
const originalAny = Promise.any;

const app = defineApp({
  activities: { work: (n: number) => n },
  orchestrations: {
    async raceTimer(ctx) {
      const winner = await Promise.race([ctx.createTimer(60_000).then(() => 'timeout'), ctx.callActivity('work', 7)]);
      await ctx.callActivity('work', 2);
      return winner;
    },
    async anyTimer(ctx) {
      const winner = await Promise.any([ctx.createTimer(60_000).then(() => 'timeout'), ctx.callActivity('work', 7)]);
      await ctx.callActivity('work', 2);
      return winner;
    },
    async nativeRace(ctx) {
      await ctx.callActivity('work', 1);
      return Promise.race([Promise.resolve('plain'), new Promise(() => undefined)]);
    },
  },
});

function assertNative(when: string): void {
  assert.equal(Promise.race, originalRace, `Promise.race is the native one ${when}`);
  assert.equal(Promise.any, originalAny, `Promise.any is the native one ${when}`);
}
/* eslint-enable @typescript-eslint/unbound-method */

describe('executor: Promise.race and Promise.any outside orchestration code', () => {
  it('leaves the native Promise.race and Promise.any in place after a turn and while an instance waits', async () => {
    assertNative('before any executor ran');
    const waiting = new Harness('s1', app);
    await waiting.start('raceTimer', null);
    assertNative('while an instance waits between turns');
    const other = new Harness('s2', app);
    await other.start('raceTimer', null);
    await other.step(send.taskCompleted('s2', 1, 7), T0 + 1);
    const done = await other.step(send.taskCompleted('s2', 2, 2), T0 + 2);
    assert.equal(done.snapshot.output, 7);
    assertNative('after an instance completed, with another one still waiting');
    await other.replay();
    assertNative('after a replay');
  });

  it('restores the native functions when orchestration code throws', async () => {
    const failing = defineApp({
      orchestrations: {
        async boom() {
          await Promise.resolve();
          throw new Error('boom');
        },
      },
    });
    const h = new Harness('s3', failing);
    const r = await h.start('boom', null);
    assert.equal(r.snapshot.status, 'Failed');
    assertNative('after a failed execution');
  });

  it('still cancels the losers of races in instances whose turns interleave', async () => {
    const a = new Harness('s4', app);
    const b = new Harness('s5', app);
    await Promise.all([a.start('raceTimer', null), b.start('anyTimer', null)]);
    await Promise.all([a.step(send.taskCompleted('s4', 1, 7), T0 + 1), b.step(send.taskCompleted('s5', 1, 7), T0 + 1)]);
    assertNative('after interleaved turns');
    const [lateA, lateB] = await Promise.all([
      a.step(send.timerFired('s4', 0, T0 + 60_000), T0 + 60_000),
      b.step(send.timerFired('s5', 0, T0 + 60_000), T0 + 60_000),
    ]);
    assert.deepEqual(lateA.newEvents, [], 'the timer that lost the race must not wake the instance');
    assert.deepEqual(lateB.newEvents, [], 'the timer that lost the Promise.any must not wake the instance');
    assert.equal(lateA.dropped.length + lateB.dropped.length, 2);
  });

  it('runs Promise.race over plain promises in orchestration code like the native one', async () => {
    const h = new Harness('s6', app);
    const r0 = await h.start('nativeRace', null);
    assert.deepEqual(timerMessages(r0.messages), []);
    const r = await h.step(send.taskCompleted('s6', 0, 1), T0 + 1);
    assert.equal(r.snapshot.output, 'plain');
  });
});
