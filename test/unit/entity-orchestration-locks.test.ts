import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { Entity } from '../../src/engine/entity.js';
import type { ValidationError } from '../../src/engine/errors.js';
import type { Message, OrchestrationMessage } from '../../src/engine/messages.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { entityMessages, EntityHarness, entityReply, sentToEntities } from './helpers/entity-harness.js';
import { Harness, send, T0, types } from './helpers/harness.js';

class Account extends Entity<number> {
  override initial() {
    return 10;
  }
  add(n: number) {
    this.state += n;
    return this.state;
  }
}

const code = (error: unknown) => (error as ValidationError).code;

const app = defineApp({
  entities: { acct: Account },
  orchestrations: {
    async transfer(ctx) {
      const before = ctx.isInCriticalSection;
      const section = await ctx.lock('acct@b', 'acct@a');
      const inside = ctx.isInCriticalSection;
      const a: number = await ctx.callEntity('acct@a', 'add', -1);
      const b: number = await ctx.callEntity('acct@b', 'add', 1);
      section.release();
      section.release();
      const after = ctx.isInCriticalSection;
      const a2: number = await ctx.callEntity('acct@a', 'add', 0);
      return { entities: section.entities, before, inside, after, a, b, a2 };
    },
    async outsideCall(ctx) {
      const section = await ctx.lock('acct@a');
      try {
        await ctx.callEntity('acct@z', 'add', 1);
        return 'scheduled';
      } catch (error) {
        return code(error);
      } finally {
        section.release();
      }
    },
    async nested(ctx) {
      await ctx.lock('acct@a');
      try {
        await ctx.lock('acct@b');
        return 'nested';
      } catch (error) {
        return code(error);
      }
    },
    async nestedWhilePending(ctx) {
      void ctx.lock('acct@a');
      try {
        void ctx.lock('acct@b');
        return Promise.resolve('nested');
      } catch (error) {
        return Promise.resolve(code(error));
      }
    },
    async noIds(ctx) {
      try {
        await ctx.lock();
        return 'locked';
      } catch (error) {
        return code(error);
      }
    },
    async duplicateIds(ctx) {
      return (await ctx.lock('acct@a', 'acct@a')).entities;
    },
    async lockThenComplete(ctx) {
      await ctx.lock('acct@b', 'acct@a');
      return 'done';
    },
    async lockThenFail(ctx) {
      await ctx.lock('acct@b', 'acct@a');
      throw new Error('boom');
    },
    async lockThenWait(ctx) {
      await ctx.lock('acct@b', 'acct@a');
      return ctx.waitForEvent('go');
    },
    async lockThenContinue(ctx, round: number) {
      await ctx.lock('acct@b', 'acct@a');
      return ctx.continueAsNew(round + 1);
    },
    async pendingComplete(ctx) {
      void ctx.lock('acct@b', 'acct@a');
      return Promise.resolve('gave up');
    },
    async pendingTerminate(ctx) {
      const section = ctx.lock('acct@b', 'acct@a');
      await ctx.waitForEvent('go');
      return (await section).entities;
    },
  },
});

const lockIdOf = (instanceId: string, seq = 0) => `${instanceId}/0/${T0}/lock/${seq}`;
const granted = (h: Harness, seq = 0) => entityReply.granted(h.instanceId, seq);
const response = (h: Harness, seq: number, result: unknown) => entityReply.response(h.instanceId, seq, { result });

/** Starts `name` and grants its lock at once. */
async function startLocked(id: string, name: string, input?: unknown): Promise<Harness> {
  const h = new Harness(id, app);
  await h.start(name, input);
  await h.step(granted(h), T0 + 1);
  return h;
}

/** The unlocks in an outbox, as [target, n]. */
const unlocks = (messages: readonly Message[]) =>
  entityMessages(messages)
    .filter((m) => m.body.type === 'EntityUnlock')
    .map((m) => [m.instanceId, m.body.sender.n]);

describe('orchestration: critical sections', () => {
  it('sends one EntityLock to the first entity in sorted order, with the entities sorted', async () => {
    const h = new Harness('tx-1', app);
    const first = await h.start('transfer', undefined);
    assert.deepEqual(types(first.newEvents), ['ExecutionStarted', 'EntityLockRequested']);
    assert.deepEqual(first.newEvents[1], {
      type: 'EntityLockRequested',
      at: T0,
      seq: 0,
      lockId: lockIdOf('tx-1'),
      entities: ['acct@a', 'acct@b'],
    });
    assert.deepEqual(first.messages, [
      {
        id: 'tx-1/0/entity/0',
        queue: 'orchestrations',
        instanceId: 'acct@a',
        body: {
          type: 'EntityLock',
          lockId: lockIdOf('tx-1'),
          holder: { instanceId: 'tx-1', generation: 0, seq: 0 },
          entities: ['acct@a', 'acct@b'],
          index: 0,
          sender: { id: 'tx-1/0', n: 1 },
        },
        priority: PRIORITY.work,
      },
    ]);
  });

  it('resolves the section on EntityLockGranted; calls inside carry the lock id; release unlocks every entity', async () => {
    const h = new Harness('tx-2', app);
    await h.start('transfer', undefined);
    const lockId = lockIdOf('tx-2');
    const grant = await h.step(granted(h), T0 + 1);
    assert.deepEqual(types(grant.newEvents), ['EntityLockGranted', 'EntityCalled']);
    assert.deepEqual(sentToEntities(grant.messages), [
      { to: 'acct@a', type: 'EntityOperation', n: 2, operation: 'add', input: -1, replyTo: 1, lockId },
    ]);
    const second = await h.step(response(h, 1, 9), T0 + 2);
    assert.deepEqual(sentToEntities(second.messages), [
      { to: 'acct@b', type: 'EntityOperation', n: 1, operation: 'add', input: 1, replyTo: 2, lockId },
    ]);
    const released = await h.step(response(h, 2, 11), T0 + 3);
    assert.deepEqual(sentToEntities(released.messages), [
      { to: 'acct@a', type: 'EntityUnlock', n: 3, lockId },
      { to: 'acct@b', type: 'EntityUnlock', n: 2, lockId },
      { to: 'acct@a', type: 'EntityOperation', n: 4, operation: 'add', input: 0, replyTo: 3 },
    ]);
    assert.equal(entityMessages(released.messages)[0]?.id, `${lockId}/unlock/acct@a`);
    const done = await h.step(response(h, 3, 9), T0 + 4);
    assert.deepEqual(done.snapshot.output, {
      entities: ['acct@a', 'acct@b'],
      before: false,
      inside: true,
      after: false,
      a: 9,
      b: 11,
      a2: 9,
    });
    assert.deepEqual(unlocks(done.messages), [], 'a released section is not unlocked again at completion');
    assert.deepEqual((await h.replay()).snapshot, done.snapshot);
  });

  it('throws LOCKING_RULES_VIOLATED for a call to an entity outside the section, inside it', async () => {
    const h = await startLocked('out-1', 'outsideCall');
    assert.equal(h.executor.snapshot.output, 'LOCKING_RULES_VIOLATED');
    assert.deepEqual(
      sentToEntities(h.results[1]?.messages ?? []).map((m) => [m.to, m.type]),
      [['acct@a', 'EntityUnlock']],
    );
  });

  it('throws LOCKING_RULES_VIOLATED for a nested lock, and for a second lock while the first is pending', async () => {
    const h = await startLocked('nest-1', 'nested');
    assert.equal(h.executor.snapshot.output, 'LOCKING_RULES_VIOLATED');
    const pending = await new Harness('nest-2', app).start('nestedWhilePending', undefined);
    assert.equal(pending.snapshot.output, 'LOCKING_RULES_VIOLATED');
  });

  it('rejects lock() without entity ids and takes each entity once when an id repeats', async () => {
    assert.equal((await new Harness('ids-1', app).start('noIds', undefined)).snapshot.output, 'VALIDATION');
    const h = await startLocked('ids-2', 'duplicateIds');
    assert.deepEqual(h.executor.snapshot.output, ['acct@a']);
    assert.deepEqual(
      h.history
        .filter((e) => e.type === 'EntityLockRequested')
        .map((e) => e.type === 'EntityLockRequested' && e.entities),
      [['acct@a']],
    );
  });
});

describe('orchestration: locks released when the execution ends', () => {
  const ends: [string, string, string, (h: Harness) => Promise<unknown>][] = [
    ['completes', 'lockThenComplete', 'Completed', async () => undefined],
    ['fails', 'lockThenFail', 'Failed', async () => undefined],
    ['is terminated', 'lockThenWait', 'Terminated', async (h) => h.step(send.terminate(h.instanceId, 'stop'), T0 + 2)],
    ['continues as new', 'lockThenContinue', 'ContinuedAsNew', async () => undefined],
  ];
  for (const [how, name, status, end] of ends) {
    it(`sends an unlock to every locked entity when the orchestration ${how}`, async () => {
      const h = await startLocked(`end-${name}`, name, 0);
      await end(h);
      const last = h.results[h.results.length - 1] as { messages: Message[] };
      assert.deepEqual(unlocks(last.messages), [
        ['acct@a', 2],
        ['acct@b', 1],
      ]);
      assert.equal(h.executor.snapshot.status, status);
      assert.deepEqual((await h.replay()).snapshot, h.executor.snapshot);
    });
  }

  it('sends the next generation its start along with the unlocks on continue-as-new', async () => {
    const h = await startLocked('can-1', 'lockThenContinue', 4);
    const starts = (h.results[1]?.messages ?? []).filter(
      (m): m is OrchestrationMessage => m.queue === 'orchestrations' && m.body.type === 'ExecutionStarted',
    );
    assert.deepEqual(
      starts.map((m) => m.body.type === 'ExecutionStarted' && [m.body.generation, m.body.input]),
      [[1, 5]],
    );
  });

  it('unlocks every entity when the orchestration completes while its lock request is still pending', async () => {
    const h = new Harness('pend-1', app);
    const out = await h.start('pendingComplete', undefined);
    assert.equal(out.snapshot.status, 'Completed');
    assert.deepEqual(
      sentToEntities(out.messages).map((m) => [m.to, m.type, m.n]),
      [
        ['acct@a', 'EntityLock', 1],
        ['acct@a', 'EntityUnlock', 2],
        ['acct@b', 'EntityUnlock', 1],
      ],
    );
  });

  it('unlocks every entity when the orchestration is terminated while its lock request is still pending', async () => {
    const h = new Harness('pend-2', app);
    await h.start('pendingTerminate', undefined);
    const out = await h.step(send.terminate(h.instanceId), T0 + 1);
    assert.equal(out.snapshot.status, 'Terminated');
    assert.deepEqual(unlocks(out.messages), [
      ['acct@a', 2],
      ['acct@b', 1],
    ]);
    const late = await h.step(granted(h), T0 + 2);
    assert.deepEqual(late.messages, [], 'a grant after the end changes nothing');
    assert.equal(late.dropped.length, 1);
  });
});

describe('orchestration and entities together', () => {
  it('runs a transfer end to end: lock chain, calls in the section, unlock, and a call after it', async () => {
    const h = new Harness('e2e-1', app);
    const accounts = new Map(['acct@a', 'acct@b'].map((id) => [id, new EntityHarness(id, app)]));
    let inbox: Message[] = (await h.start('transfer', undefined)).messages;
    for (let turn = 1; turn < 20 && h.executor.snapshot.status === 'Running'; turn++) {
      const replies: OrchestrationMessage[] = [];
      while (inbox.length > 0) {
        const batch = inbox.splice(0);
        for (const [id, entity] of accounts) {
          const mine = entityMessages(batch).filter((m) => m.instanceId === id);
          if (mine.length > 0) inbox.push(...(await entity.run(mine, T0 + turn)).messages);
        }
        replies.push(...batch.filter((m): m is OrchestrationMessage => m.instanceId === h.instanceId));
      }
      inbox = (await h.step(replies, T0 + turn)).messages;
    }
    assert.deepEqual(h.executor.snapshot.output, {
      entities: ['acct@a', 'acct@b'],
      before: false,
      inside: true,
      after: false,
      a: 9,
      b: 11,
      a2: 9,
    });
    for (const entity of accounts.values()) {
      assert.equal(entity.data.lock, undefined);
      assert.deepEqual(entity.data.queue, []);
      assert.deepEqual(entity.data.early, []);
    }
  });
});
