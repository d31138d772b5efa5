/**
 * Entities in the runtime, on the test environment: ordering and deduplication of messages, critical sections
 * ending every way an orchestration can end, storage cleanup, listing, and the client's signals.
 */
import assert from 'node:assert/strict';
import type { EntityContext, Message, Queue } from '../../src/index.js';
import {
  defineApp,
  DurableError,
  Entity,
  entityId,
  EntityOperationFailedError,
  TestEnvironment,
} from '../../src/index.js';

/** A list of items: shows the order operations were applied in. */
const log = {
  initial: (): string[] => [],
  append(ctx: EntityContext<string[]>, item: string): number {
    ctx.setState([...ctx.state, item]);
    return ctx.state.length;
  },
  get: (ctx: EntityContext<string[]>): string[] => ctx.state,
  remove: (ctx: EntityContext<string[]>): void => ctx.deleteState(),
  /** Starts a `job` for this log and records its instance id. */
  startJob(ctx: EntityContext<string[]>, input: string): string {
    const id = ctx.startOrchestration('job', { log: ctx.key, input });
    ctx.setState([...ctx.state, `started ${id}`]);
    return id;
  },
  startJobThenFail(ctx: EntityContext<string[]>, input: string): never {
    ctx.startOrchestration('job', { log: ctx.key, input });
    throw new Error('changed my mind');
  },
  callOther: (ctx: EntityContext<string[]>): never => ctx.callEntity('log@other', 'get'),
};
type Log = typeof log;

class Tally extends Entity<number> {
  override initial(): number {
    return 0;
  }
  add(n: number): number {
    return (this.state += n);
  }
}

const app = defineApp({
  entities: { log, tally: Tally },
  orchestrations: {
    /** Signals and calls mixed, all sent in one turn, then a read. */
    async sendInOrder(ctx, input: { key: string; n: number }): Promise<string[]> {
      const target = entityId('log', input.key);
      const calls: PromiseLike<number>[] = [];
      for (let i = 0; i < input.n; i++) {
        if (i % 2 === 0) ctx.signalEntity(target, 'append', `m${i}`);
        else calls.push(ctx.callEntity<number>(target, 'append', `m${i}`));
      }
      await Promise.all(calls);
      return await ctx.entity<Log>('log', input.key).get();
    },
    /** Locks a log, appends, waits for `go`, then ends as told, without releasing. */
    async holdLock(ctx, input: { key: string; end: 'complete' | 'fail' | 'continue' | 'release' }): Promise<string> {
      if (ctx.generation > 0) return await ctx.waitForEvent<string>('finish');
      const section = await ctx.lock(entityId('log', input.key));
      await ctx.entity<Log>('log', input.key).append('holder');
      await ctx.waitForEvent('go');
      if (input.end === 'fail') throw new Error('failed inside the section');
      if (input.end === 'continue') return ctx.continueAsNew(input);
      if (input.end === 'release') {
        section.release();
        return await ctx.waitForEvent<string>('finish');
      }
      return 'done';
    },
    async lockOnce(ctx, key: string): Promise<number> {
      const section = await ctx.lock(entityId('log', key));
      try {
        return await ctx.entity<Log>('log', key).append('next holder');
      } finally {
        section.release();
      }
    },
    /** Signals a log it holds locked, then calls it: the signal was sent first. */
    async signalInSection(ctx, key: string): Promise<string[]> {
      const id = entityId('log', key);
      const section = await ctx.lock(id);
      ctx.signalEntity(id, 'append', 'signal');
      await ctx.callEntity(id, 'append', 'call');
      section.release();
      return await ctx.callEntity<string[]>(id, 'get');
    },
    /** Locks one entity and calls another (without releasing: the end of the execution does). */
    async lockAndCall(ctx, input: { lock: string; call: string }): Promise<number> {
      await ctx.lock(input.lock);
      return await ctx.callEntity<number>(input.call, 'append', 'x');
    },
    async appendOnce(ctx, input: { key: string; item: string }): Promise<number> {
      return await ctx.entity<Log>('log', input.key).append(input.item);
    },
    async job(ctx, input: { log: string; input: string }): Promise<string> {
      ctx.signalEntity(entityId('log', input.log), 'append', 'job finished');
      return `job done: ${input.input}`;
    },
    /** Calls any operation; reports an entity failure as data. */
    async call(ctx, input: { id: string; operation: string }): Promise<unknown> {
      try {
        return { result: await ctx.callEntity(input.id, input.operation) };
      } catch (error) {
        if (!(error instanceof EntityOperationFailedError)) throw error;
        return { failed: error.failure.name, code: error.failure.code };
      }
    },
  },
});

let env: TestEnvironment;

beforeEach(() => {
  env = TestEnvironment.start(app);
});

afterEach(async () => {
  await env.close();
});

/** A queue wrapper that changes what `send` does (fault injection for one worker). */
function wrapSend(queue: Queue, send: (messages: readonly Message[]) => Promise<void>): Queue {
  return new Proxy(queue, {
    get: (target, prop, receiver) => (prop === 'send' ? send : (Reflect.get(target, prop, receiver) as unknown)),
  });
}

const read = (id: string) => env.client.readEntityState<string[]>(id);

/** A signal as a client would send it, addressed by hand (to send the same message twice). */
function operation(id: string, key: string, item: string, sender: { id: string; n?: number }): Message {
  return {
    id,
    queue: 'orchestrations',
    instanceId: `log@${key}`,
    body: { type: 'EntityOperation', operation: 'append', input: item, sender },
  };
}

describe('Entities in the runtime', () => {
  describe('ordering and duplicates', () => {
    it('applies the operations of one orchestration in the order it sent them, even when the queue reverses them', async () => {
      await env.close(); // this test needs a worker with a reversing queue
      env = TestEnvironment.start(app, { startWorker: false });
      env.startWorker({ queue: wrapSend(env.queue, (messages) => env.queue.send([...messages].reverse())) });
      const done = await env.waitForCompletion(await env.client.start('sendInOrder', { key: 'ordered', n: 12 }));
      const expected = Array.from({ length: 12 }, (_, i) => `m${i}`);
      assert.equal(done.status, 'Completed', done.error?.message);
      assert.deepEqual(done.output, expected);
      assert.deepEqual((await read('log@ordered'))?.state, expected);
    });

    it('applies a client message delivered twice only once, in one batch or in two', async () => {
      const twice = operation('log@dup/signal/1', 'dup', 'once', { id: 'client' });
      await env.queue.send([twice, twice]);
      await env.settle();
      await env.queue.send([twice]);
      await env.settle();
      assert.deepEqual((await read('log@dup'))?.state, ['once']);
    });

    it('holds back a numbered message that overtook its predecessor and drops a repeat', async () => {
      const sender = { id: 'some-orchestration/0' };
      await env.queue.send([operation('s/2', 'seq', 'second', { ...sender, n: 2 })]);
      await env.settle();
      assert.equal(await read('log@seq'), undefined, 'the second message waits for the first');
      await env.queue.send([operation('s/1', 'seq', 'first', { ...sender, n: 1 })]);
      await env.settle();
      await env.queue.send([operation('s/1-again', 'seq', 'first', { ...sender, n: 1 })]);
      await env.settle();
      assert.deepEqual((await read('log@seq'))?.state, ['first', 'second']);
    });
  });

  describe('critical sections', () => {
    const go = (id: string) => env.client.raiseEvent(id, 'go');
    const endings = [
      ['completes', 'complete', 'Completed', go],
      ['fails inside the section', 'fail', 'Failed', go],
      ['is terminated while it waits inside the section', 'complete', 'Terminated', (id) => env.client.terminate(id)],
      ['continues as new (and keeps running)', 'continue', 'Running', go],
    ] as const satisfies ReadonlyArray<readonly [string, string, string, (id: string) => Promise<void>]>;

    for (const [ending, end, status, finish] of endings) {
      it(`releases the lock when the holding orchestration ${ending}, then applies what queued meanwhile`, async () => {
        const holder = await env.client.start('holdLock', { key: 'k', end }, { instanceId: 'holder' });
        await env.settle();
        await env.client.signalEntity('log@k', 'append', 'client');
        await env.settle();
        let state = await read('log@k');
        assert.equal(state?.lockedBy, 'holder');
        assert.equal(state?.queued, 1, 'the client signal waits for the lock');
        assert.deepEqual(state?.state, ['holder']);

        await finish(holder);
        await env.settle();
        const after = await env.client.getStatus(holder);
        assert.equal(after?.status, status);
        if (status === 'Running') assert.equal(after?.generation, 1);
        state = await read('log@k');
        assert.equal(state?.lockedBy, undefined);
        assert.equal(state?.queued, 0);
        assert.deepEqual(state?.state, ['holder', 'client']);

        const done = await env.waitForCompletion(await env.client.start('lockOnce', 'k'));
        assert.equal(done.status, 'Completed', done.error?.message);
        assert.equal(done.output, 3);
      });
    }

    it('keeps the order of a signal and a call the holder sends to its locked entity (or refuses the signal)', async () => {
      // A signal carries no lock id: were it accepted, the entity would queue it until the release while the
      // call sent after it ran at once. Durable Functions refuses such a signal; either way the order must hold.
      const done = await env.waitForCompletion(await env.client.start('signalInSection', 'sig'));
      if (done.status === 'Failed') assert.equal(done.error?.code, 'LOCKING_RULES_VIOLATED');
      else assert.deepEqual(done.output, ['signal', 'call']);
    });

    it('fails an orchestration that calls an entity outside its section, and releases the lock', async () => {
      const done = await env.waitForCompletion(
        await env.client.start('lockAndCall', { lock: 'log@in', call: 'log@out' }),
      );
      assert.equal(done.status, 'Failed');
      assert.equal(done.error?.code, 'LOCKING_RULES_VIOLATED');
      assert.equal((await env.store.get('log@in'))?.entity?.lock, undefined);
      assert.equal(await env.store.get('log@out'), undefined, 'nothing was sent to it');
    });

    it('queues the calls and signals of others while locked and runs them in arrival order after release()', async () => {
      await env.client.start('holdLock', { key: 'q', end: 'release' }, { instanceId: 'holder' });
      await env.settle();
      const other = await env.client.start('appendOnce', { key: 'q', item: 'other' });
      await env.settle();
      await env.client.signalEntity('log@q', 'append', 'client');
      await env.settle();
      assert.equal((await read('log@q'))?.queued, 2);
      assert.equal((await env.client.getStatus(other))?.status, 'Running', 'its call waits for the lock');

      await env.client.raiseEvent('holder', 'go');
      await env.settle();
      assert.equal((await env.client.getStatus('holder'))?.status, 'Running', 'released, not ended');
      assert.deepEqual((await read('log@q'))?.state, ['holder', 'other', 'client']);
      assert.equal((await env.client.getStatus(other))?.output, 2);
      assert.equal((await read('log@q'))?.lockedBy, undefined);
    });
  });

  describe('cleanEntityStorage', () => {
    it('removes entities whose state was deleted and keeps the others', async () => {
      await env.client.signalEntity('log@gone', 'append', 'x');
      await env.client.signalEntity('log@gone', 'remove');
      await env.client.signalEntity('log@kept', 'append', 'y');
      await env.settle();
      assert.equal(await read('log@gone'), undefined);
      const all = await env.client.listEntities({ includeDeleted: true });
      assert.deepEqual(all.items.map((e) => e.entityId).sort(), ['log@gone', 'log@kept']);

      assert.equal((await env.client.cleanEntityStorage()).removedEmpty, 1);
      assert.equal(await env.store.get('log@gone'), undefined);
      assert.deepEqual((await read('log@kept'))?.state, ['y']);
      assert.equal((await env.client.cleanEntityStorage()).removedEmpty, 0);
    });

    it('removes an entity whose state an orchestration deleted with a call', async () => {
      // The turn that replied to the call must not keep the (already sent) reply in the record's outbox:
      // cleanEntityStorage only removes entities whose outbox is empty.
      await env.client.signalEntity('log@by-call', 'append', 'x');
      await env.settle();
      await env.waitForCompletion(await env.client.start('call', { id: 'log@by-call', operation: 'remove' }));
      assert.equal(await read('log@by-call'), undefined);
      assert.equal((await env.client.cleanEntityStorage()).removedEmpty, 1);
      assert.equal(await env.store.get('log@by-call'), undefined);
    });

    it('releases a lock whose holder was purged before its unlock was sent, then runs what queued', async () => {
      // The orphan: the holder is terminated; its worker commits (the unlock is in the record's outbox) and
      // crashes before sending. Normally the redelivered terminate message makes a worker re-send the outbox,
      // but the instance is purged first, so the unlock is gone with it and nothing will ever send it.
      await env.close(); // this test needs a worker whose queue crashes
      env = TestEnvironment.start(app, { startWorker: false, worker: { turnTimeoutMs: 10_000 } });
      let crash = true;
      const crashing = wrapSend(env.queue, (messages) => {
        if (crash && messages.some((m) => m.body.type === 'EntityUnlock')) {
          crash = false;
          return Promise.reject(new Error('connection reset (simulated crash after commit)'));
        }
        return env.queue.send(messages);
      });
      env.startWorker({ queue: crashing });
      await env.client.start('holdLock', { key: 'o', end: 'complete' }, { instanceId: 'holder' });
      await env.settle();
      await env.client.signalEntity('log@o', 'append', 'client');
      await env.client.terminate('holder');
      await env.settle();
      assert.equal((await env.client.getStatus('holder'))?.status, 'Terminated');
      await env.client.purge('holder');
      await env.advance(11_000); // the terminate message comes back, for an instance that no longer exists
      assert.equal(crash, false);
      assert.equal((await read('log@o'))?.lockedBy, 'holder', 'the lock is orphaned');
      assert.equal((await read('log@o'))?.queued, 1);

      assert.equal((await env.client.cleanEntityStorage()).releasedLocks, 1);
      await env.settle();
      const state = await read('log@o');
      assert.equal(state?.lockedBy, undefined);
      assert.deepEqual(state?.state, ['holder', 'client']);
      assert.equal((await env.waitForCompletion(await env.client.start('lockOnce', 'o'))).output, 3);
    });

    it('forgets the ordering records of orchestrations that ended more than an hour ago', async () => {
      await env.waitForCompletion(await env.client.start('appendOnce', { key: 'senders', item: 'a' }));
      assert.equal((await env.client.cleanEntityStorage()).prunedSenders, 0, 'ended just now: kept');
      await env.advance(3_600_001);
      assert.equal((await env.client.cleanEntityStorage()).prunedSenders, 1);
      assert.deepEqual(Object.keys((await env.store.get('log@senders'))?.entity?.senders ?? {}), []);
    });
  });

  describe('client', () => {
    it('lists entities page by page, filtered by name, and never lists orchestrations', async () => {
      for (let i = 0; i < 7; i++) await env.client.signalEntity(`log@p${i}`, 'append', 'x');
      await env.client.entity<Tally>('tally', 't1').add(1);
      await env.client.entity<Tally>('tally', 't2').add(2);
      await env.waitForCompletion(await env.client.start('appendOnce', { key: 'p0', item: 'y' }));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await env.client.listEntities({ name: 'log', limit: 3, ...(cursor ? { cursor } : {}) });
        assert.ok(page.items.length <= 3);
        seen.push(...page.items.map((e) => e.entityId));
        cursor = page.nextCursor;
      } while (cursor);
      assert.deepEqual([...seen].sort(), ['log@p0', 'log@p1', 'log@p2', 'log@p3', 'log@p4', 'log@p5', 'log@p6']);
      const tallies = (await env.client.listEntities({ name: 'tally' })).items.map(
        (e) => `${e.key}=${String(e.state)}`,
      );
      assert.deepEqual(tallies.sort(), ['t1=1', 't2=2']);
      assert.equal((await env.client.listEntities()).items.length, 9);
      const orchestrations = (await env.client.list()).items.map((s) => s.name);
      assert.deepEqual(orchestrations, ['appendOnce']);
    });

    it('refuses bad signals with a stable code and sends nothing', async () => {
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => env.client.signalEntity('log', 'append', 'x'), 'VALIDATION'],
        [() => env.client.signalEntity('@k', 'append', 'x'), 'VALIDATION'],
        [() => env.client.signalEntity('log@', 'append', 'x'), 'VALIDATION'],
        [() => env.client.signalEntity('lo g@k', 'append', 'x'), 'VALIDATION'],
        [() => env.client.signalEntity('nope@k', 'append', 'x'), 'UNKNOWN_ENTITY'],
        [() => env.client.signalEntity('log@k', '', 'x'), 'VALIDATION'],
        [() => env.client.signalEntity('log@k', 'append', 10n), 'VALIDATION'],
        [() => env.client.signalEntity('log@k', 'append', 'x', { at: new Date('never') }), 'VALIDATION'],
        [() => env.client.signalEntity('log@k', 'append', 'x', { signalId: 'not ok!' }), 'VALIDATION'],
        [() => env.client.entity<Log>('nope', 'k').append('x'), 'UNKNOWN_ENTITY'],
        [async () => env.client.entity<Log>('lo g', 'k').append('x'), 'VALIDATION'],
      ];
      for (const [i, [attempt, code]] of cases.entries()) {
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof DurableError, `case ${i}: ${String(error)}`);
          assert.equal(error.code, code, `case ${i}: ${error.message}`);
          return true;
        });
      }
      const depth = await env.queue.depth('orchestrations');
      assert.equal(depth.ready + depth.delayed + depth.reserved, 0);
      await env.settle();
      assert.deepEqual((await env.client.listEntities({ includeDeleted: true })).items, []);
    });

    it('applies a signal sent with `at` only once the clock passes that time', async () => {
      await env.client.signalEntity('log@later', 'append', 'late', { at: new Date(env.clock.now() + 3_600_000) });
      await env.advance(3_599_999);
      assert.equal(await read('log@later'), undefined);
      await env.advance(1);
      assert.deepEqual((await read('log@later'))?.state, ['late']);
    });

    it('applies a signal sent twice with the same signalId once, and signals without one every time', async () => {
      await env.client.signalEntity('log@ids', 'append', 'a', { signalId: 'webhook-1' });
      await env.settle();
      await env.client.signalEntity('log@ids', 'append', 'a', { signalId: 'webhook-1' });
      await env.client.signalEntity('log@ids', 'append', 'b', { signalId: 'webhook-2' });
      await env.settle();
      await env.client.signalEntity('log@ids', 'append', 'c');
      await env.client.signalEntity('log@ids', 'append', 'c');
      await env.settle();
      assert.deepEqual((await read('log@ids'))?.state, ['a', 'b', 'c', 'c']);
    });
  });

  describe('entity operations', () => {
    it('starts an orchestration from an operation; it completes and can signal back', async () => {
      await env.client.signalEntity('log@jobs', 'startJob', 'report');
      await env.settle();
      const started = (await read('log@jobs'))?.state[0] ?? '';
      const done = await env.waitForCompletion(started.replace(/^started /, ''));
      assert.deepEqual([done.status, done.name, done.output], ['Completed', 'job', 'job done: report']);
      assert.deepEqual((await read('log@jobs'))?.state, [started, 'job finished']);
    });

    it('answers failing operations with their error and stable codes, rolling back what they started', async () => {
      const outputs = [];
      for (const operation of ['startJobThenFail', 'explode', 'callOther']) {
        const id = await env.client.start('call', { id: 'log@e', operation }, { instanceId: `call-${operation}` });
        outputs.push((await env.waitForCompletion(id)).output);
      }
      assert.deepEqual(outputs, [
        { failed: 'Error' },
        { failed: 'UnknownOperationError', code: 'UNKNOWN_OPERATION' },
        { failed: 'ValidationError', code: 'NOT_ALLOWED' },
      ]);
      const started = (await env.client.list()).items.map((s) => s.instanceId).sort();
      assert.deepEqual(started, ['call-callOther', 'call-explode', 'call-startJobThenFail'], 'no job was started');
      assert.equal(await read('log@e'), undefined);
    });
  });
});
