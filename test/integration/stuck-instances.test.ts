/**
 * Instances that cannot progress (their code no longer matches their history) wait with a growing back-off and no
 * store write per retry, and an operator can still terminate and purge them.
 */
import assert from 'node:assert/strict';
import { defineApp, TestEnvironment } from '../../src/index.js';

const activities = {
  async echo(value: string) {
    return value;
  },
};

const v1 = defineApp({
  activities,
  orchestrations: {
    async echoThenWait(ctx, value: string) {
      const echoed = await ctx.callActivity('echo', value);
      return echoed + (await ctx.waitForEvent<string>('go'));
    },
  },
});

/** The same orchestration, changed in shape under running instances: replaying them is nondeterministic. */
const v2 = defineApp({
  activities,
  orchestrations: {
    async echoThenWait(ctx, value: string) {
      await ctx.createTimer(1000);
      return value;
    },
  },
});

/** Starts an instance on v1, then raises its event to a worker running v2: the instance is stuck. */
async function stuckInstance(env: TestEnvironment, id: string): Promise<void> {
  const w1 = env.startWorker({ app: v1 });
  await env.client.start('echoThenWait', 'a', { instanceId: id });
  await env.settle();
  await env.stopWorker(w1);
  env.startWorker({ app: v2 });
  await env.client.raiseEvent(id, 'go', '!');
  await env.settle();
  assert.equal((await env.client.getStatus(id))?.stuck?.code, 'NON_DETERMINISM');
}

describe('instances that cannot make progress', () => {
  let env: TestEnvironment;
  afterEach(async () => env.close());

  it('retries a stuck instance after 1, 2, 4 … 60 s, and writes its record once, not per retry', async () => {
    env = TestEnvironment.start(v2, { startWorker: false });
    await stuckInstance(env, 'nd');
    const version = (await env.store.get('nd'))?.version;
    const delays: number[] = [];
    for (let retry = 0; retry < 9; retry++) {
      const next = await env.queue.nextVisibleAt('orchestrations');
      assert.ok(next !== undefined, 'the stuck message waits to be retried');
      delays.push(next - env.clock.now());
      env.clock.advanceTo(next);
      await env.settle();
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    assert.equal((await env.store.get('nd'))?.version, version, 'no store write per retry');
  });

  it('terminates a stuck instance without replaying it, and then purges it', async () => {
    env = TestEnvironment.start(v2, { startWorker: false });
    await stuckInstance(env, 'nd-stop');
    await env.client.terminate('nd-stop', 'deployed the wrong build');
    await env.settle();
    const ended = await env.client.getStatus('nd-stop');
    assert.equal(ended?.status, 'Terminated');
    assert.equal(ended?.error?.message, 'deployed the wrong build');
    const history = await env.client.getHistory('nd-stop');
    assert.equal(history.at(-1)?.type, 'ExecutionTerminated', 'the termination is in the history');
    await env.client.purge('nd-stop');
    assert.equal(await env.client.getStatus('nd-stop'), undefined);
    await env.advance(120_000); // the stuck event comes back to an instance that is gone: nothing breaks
    assert.equal(await env.client.getStatus('nd-stop'), undefined);
  });
});
