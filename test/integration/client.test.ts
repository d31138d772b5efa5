import assert from 'node:assert/strict';
import { DurableError, defineApp, TestEnvironment } from '../../src/index.js';

const activities = {
  async echo(value: string) {
    return value;
  },
};

const app = defineApp({
  activities,
  orchestrations: {
    async waitForApproval(ctx, request: string) {
      ctx.setCustomStatus({ stage: 'waiting', request });
      const decision = await ctx.waitForEvent<string>('decision');
      ctx.setCustomStatus({ stage: 'decided' });
      return `${request}: ${decision}`;
    },
    async echoOnce(ctx, value: string) {
      return ctx.callActivity('echo', value);
    },
    async crash(_ctx, message: string) {
      throw new TypeError(message);
    },
    async undeclared(ctx) {
      return ctx.waitForEvent<string>('anything at all');
    },
  },
  events: { waitForApproval: ['decision'] },
});

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DurableError, `expected a DurableError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

describe('DurableClient', () => {
  let env: TestEnvironment;
  beforeEach(() => {
    env = TestEnvironment.start(app);
  });
  afterEach(() => env.close());

  describe('start', () => {
    it('creates a Pending instance that a worker then runs to completion', async () => {
      const id = await env.client.start('echoOnce', 'hi', { instanceId: 'echo-1' });
      assert.equal(id, 'echo-1');
      const done = await env.waitForCompletion(id);
      assert.equal(done.status, 'Completed');
      assert.equal(done.output, 'hi');
      assert.equal(done.input, 'hi');
      assert.ok(done.createdAt instanceof Date && done.lastUpdatedAt instanceof Date);
    });

    it('generates a unique instance id when none is given', async () => {
      const a = await env.client.start('echoOnce', 'a');
      const b = await env.client.start('echoOnce', 'b');
      assert.notEqual(a, b);
      assert.match(a, /^[0-9a-f-]{36}$/);
    });

    it('refuses an unknown orchestration name and creates nothing', async () => {
      await rejects(env.client.start('nope', 1, { instanceId: 'x1' }), 'UNKNOWN_ORCHESTRATION');
      assert.equal(await env.client.getStatus('x1'), undefined);
    });

    it('refuses a malformed instance id and creates nothing', async () => {
      for (const bad of ['', 'a/b', 'has space', 'x'.repeat(201), 'entity@key']) {
        await rejects(env.client.start('echoOnce', 'v', { instanceId: bad }), 'VALIDATION');
      }
      assert.equal((await env.client.list()).items.length, 0);
    });

    it('refuses input that cannot be stored as JSON', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await rejects(env.client.start('echoOnce', cyclic, { instanceId: 'cyc' }), 'VALIDATION');
      await rejects(env.client.start('echoOnce', 10n, { instanceId: 'big' }), 'VALIDATION');
      assert.equal(await env.client.getStatus('cyc'), undefined);
    });

    it('refuses to reuse the id of a live instance under every policy', async () => {
      await env.client.start('waitForApproval', 'r1', { instanceId: 'live' });
      await env.settle();
      for (const reuse of ['allow-terminal', 'allow-failed', 'reject'] as const) {
        await rejects(env.client.start('echoOnce', 'x', { instanceId: 'live', reuse }), 'INSTANCE_EXISTS');
      }
      const status = await env.client.getStatus('live');
      assert.equal(status?.name, 'waitForApproval');
      assert.equal(status?.status, 'Running');
    });

    it('restarts a finished instance as its next generation under allow-terminal', async () => {
      await env.client.start('echoOnce', 'first', { instanceId: 'again' });
      await env.waitForCompletion('again');
      await env.client.start('echoOnce', 'second', { instanceId: 'again' });
      const done = await env.waitForCompletion('again');
      assert.equal(done.output, 'second');
      assert.equal(done.generation, 1);
      const history = await env.client.getHistory('again');
      assert.equal(history.filter((e) => e.type === 'ExecutionStarted').length, 1, 'history starts afresh');
    });

    it('keeps a completed instance under allow-failed and reject, but restarts a failed one under allow-failed', async () => {
      await env.client.start('echoOnce', 'ok', { instanceId: 'done' });
      await env.waitForCompletion('done');
      await rejects(
        env.client.start('echoOnce', 'x', { instanceId: 'done', reuse: 'allow-failed' }),
        'INSTANCE_EXISTS',
      );
      await rejects(env.client.start('echoOnce', 'x', { instanceId: 'done', reuse: 'reject' }), 'INSTANCE_EXISTS');
      assert.equal((await env.client.getStatus('done'))?.output, 'ok');

      await env.client.start('crash', 'boom', { instanceId: 'failed' });
      await env.waitForCompletion('failed');
      await env.client.start('echoOnce', 'retry', { instanceId: 'failed', reuse: 'allow-failed' });
      assert.equal((await env.waitForCompletion('failed')).output, 'retry');
    });

    it('treats the same start repeated before any worker took it as a retry, and anything else as a clash', async () => {
      await env.close();
      env = TestEnvironment.start(app, { startWorker: false });
      await env.client.start('echoOnce', 'same', { instanceId: 'retry' });
      assert.equal(await env.client.start('echoOnce', 'same', { instanceId: 'retry' }), 'retry');
      await rejects(env.client.start('echoOnce', 'different', { instanceId: 'retry' }), 'INSTANCE_EXISTS');
      env.startWorker();
      const done = await env.waitForCompletion('retry');
      assert.equal(done.output, 'same');
      const started = (await env.client.getHistory('retry')).filter((e) => e.type === 'ExecutionStarted');
      assert.equal(started.length, 1);
    });

    it('refuses an unknown reuse policy', async () => {
      await rejects(env.client.start('echoOnce', 'x', { reuse: 'sometimes' as never }), 'VALIDATION');
    });
  });

  describe('status, events and control', () => {
    it('shows custom status while running and the output once an event arrives', async () => {
      await env.client.start('waitForApproval', 'budget', { instanceId: 'appr' });
      await env.settle();
      const running = await env.client.getStatus('appr');
      assert.equal(running?.status, 'Running');
      assert.deepEqual(running?.customStatus, { stage: 'waiting', request: 'budget' });
      await env.client.raiseEvent('appr', 'decision', 'yes');
      const done = await env.waitForCompletion('appr');
      assert.equal(done.output, 'budget: yes');
      assert.deepEqual(done.customStatus, { stage: 'decided' });
    });

    it('keeps the failing error name, message and stack of a failed instance', async () => {
      await env.client.start('crash', 'broken input', { instanceId: 'crash-1' });
      const done = await env.waitForCompletion('crash-1');
      assert.equal(done.status, 'Failed');
      assert.equal(done.error?.name, 'TypeError');
      assert.equal(done.error?.message, 'broken input');
      assert.match(done.error?.stack ?? '', /TypeError: broken input/);
    });

    it('delivers an event raised twice with the same eventId once', async () => {
      await env.client.start('waitForApproval', 'dup', { instanceId: 'dup' });
      await env.settle();
      await env.client.raiseEvent('dup', 'decision', 'first', { eventId: 'hook-1' });
      await env.client.raiseEvent('dup', 'decision', 'first', { eventId: 'hook-1' });
      await env.waitForCompletion('dup');
      const raised = (await env.client.getHistory('dup')).filter((e) => e.type === 'EventRaised');
      assert.equal(raised.length, 1);
    });

    it('refuses an event the orchestration does not declare, queueing nothing; undeclared ones accept any', async () => {
      await env.client.start('waitForApproval', 'typo', { instanceId: 'typo' });
      await env.settle();
      const before = await env.queue.depth('orchestrations');
      await rejects(env.client.raiseEvent('typo', 'decison', 'yes'), 'UNKNOWN_EVENT');
      assert.deepEqual(await env.queue.depth('orchestrations'), before);
      await env.client.raiseEvent('typo', 'decision', 'yes');
      assert.equal((await env.waitForCompletion('typo')).output, 'typo: yes');

      await env.client.start('undeclared', undefined, { instanceId: 'free' });
      await env.client.raiseEvent('free', 'anything at all', 'ok');
      assert.equal((await env.waitForCompletion('free')).output, 'ok');
    });

    it('refuses events for unknown and finished instances', async () => {
      await rejects(env.client.raiseEvent('ghost', 'decision', 1), 'INSTANCE_NOT_FOUND');
      await env.client.start('echoOnce', 'x', { instanceId: 'fin' });
      await env.waitForCompletion('fin');
      await rejects(env.client.raiseEvent('fin', 'decision', 1), 'INVALID_STATE');
      await rejects(env.client.raiseEvent('fin', '', 1), 'VALIDATION');
    });

    it('terminates a running instance with a reason', async () => {
      await env.client.start('waitForApproval', 'r', { instanceId: 'term' });
      await env.settle();
      await env.client.terminate('term', 'no longer needed');
      const done = await env.waitForCompletion('term');
      assert.equal(done.status, 'Terminated');
      assert.equal(done.error?.message, 'no longer needed');
      await rejects(env.client.terminate('term', 'again'), 'INVALID_STATE');
    });

    it('suspends an instance: an event is recorded but handled only after resume', async () => {
      await env.client.start('waitForApproval', 'r', { instanceId: 'susp' });
      await env.settle();
      await env.client.suspend('susp', 'maintenance');
      await env.settle();
      assert.equal((await env.client.getStatus('susp'))?.status, 'Suspended');
      await env.client.raiseEvent('susp', 'decision', 'later');
      await env.settle();
      assert.equal((await env.client.getStatus('susp'))?.status, 'Suspended');
      await rejects(env.client.suspend('susp'), 'INVALID_STATE');
      await env.client.resume('susp');
      const done = await env.waitForCompletion('susp');
      assert.equal(done.output, 'r: later');
      await rejects(env.client.resume('susp'), 'INVALID_STATE');
    });
  });

  describe('waitForCompletion', () => {
    it('times out with a TimeoutError without affecting the instance', async () => {
      await env.client.start('waitForApproval', 'slow', { instanceId: 'slow' });
      await env.settle();
      const waiting = rejects(env.client.waitForCompletion('slow', { timeoutMs: 20 }), 'TIMEOUT');
      await env.advance(20);
      await waiting;
      assert.equal((await env.client.getStatus('slow'))?.status, 'Running');
    });

    it('measures its timeout on the injected clock: it waits while that clock stands still, however long', async () => {
      await env.client.start('waitForApproval', 'still', { instanceId: 'still' });
      await env.settle();
      let outcome: string | undefined;
      const waiting = env.client.waitForCompletion('still', { timeoutMs: 1000 }).then(
        () => (outcome = 'completed'),
        (error: { code?: string }) => (outcome = error.code),
      );
      await new Promise((resolve) => setTimeout(resolve, 50)); // real time passes; the manual clock does not
      assert.equal(outcome, undefined);
      await env.advance(999);
      assert.equal(outcome, undefined, 'not timed out a millisecond early');
      await env.advance(1);
      await waiting;
      assert.equal(outcome, 'TIMEOUT');
    });
  });

  describe('list, history and purge', () => {
    it('filters by status and name and pages through every instance once', async () => {
      for (let i = 0; i < 5; i++) await env.client.start('echoOnce', `v${i}`, { instanceId: `e${i}` });
      for (let i = 0; i < 2; i++) await env.client.start('waitForApproval', `w${i}`, { instanceId: `w${i}` });
      await env.settle();

      const completed = await env.client.list({ status: 'Completed' });
      assert.deepEqual(completed.items.map((s) => s.instanceId).sort(), ['e0', 'e1', 'e2', 'e3', 'e4']);
      const waiting = await env.client.list({ name: 'waitForApproval', status: ['Running'] });
      assert.deepEqual(waiting.items.map((s) => s.instanceId).sort(), ['w0', 'w1']);

      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await env.client.list({ limit: 3, ...(cursor ? { cursor } : {}) });
        assert.ok(page.items.length <= 3);
        seen.push(...page.items.map((s) => s.instanceId));
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(seen.length, 7);
      assert.equal(new Set(seen).size, 7);
    });

    it('filters by creation time', async () => {
      await env.client.start('echoOnce', 'old', { instanceId: 'old' });
      await env.advance(60_000);
      const cut = new Date(env.clock.now());
      await env.client.start('echoOnce', 'new', { instanceId: 'new' });
      await env.settle();
      assert.deepEqual(
        (await env.client.list({ createdFrom: cut })).items.map((s) => s.instanceId),
        ['new'],
      );
      assert.deepEqual(
        (await env.client.list({ createdTo: cut })).items.map((s) => s.instanceId),
        ['old'],
      );
    });

    it('refuses bad list arguments', async () => {
      await rejects(env.client.list({ status: 'Sleeping' as never }), 'VALIDATION');
      await rejects(env.client.list({ limit: 0 }), 'VALIDATION');
      await rejects(env.client.list({ cursor: '!!not-a-cursor' }), 'VALIDATION');
    });

    it('returns the history of the current execution in order', async () => {
      await env.client.start('echoOnce', 'h', { instanceId: 'hist' });
      await env.waitForCompletion('hist');
      const types = (await env.client.getHistory('hist')).map((e) => e.type);
      assert.deepEqual(types, ['ExecutionStarted', 'TaskScheduled', 'TaskCompleted', 'ExecutionCompleted']);
    });

    it('purges a finished instance and refuses to purge a live one', async () => {
      await env.client.start('echoOnce', 'p', { instanceId: 'purge-me' });
      await env.waitForCompletion('purge-me');
      await env.client.purge('purge-me');
      assert.equal(await env.client.getStatus('purge-me'), undefined);
      await rejects(env.client.getHistory('purge-me'), 'INSTANCE_NOT_FOUND');

      await env.client.start('waitForApproval', 'x', { instanceId: 'alive' });
      await env.settle();
      await rejects(env.client.purge('alive'), 'INVALID_STATE');
      assert.equal((await env.client.getStatus('alive'))?.status, 'Running');
      await rejects(env.client.purge('never-existed'), 'INSTANCE_NOT_FOUND');
    });
  });
});
