import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import { Entity } from '../../src/engine/entity.js';
import { PRIORITY } from '../../src/engine/messages.js';
import { em, entityMessages, EntityHarness, grants, replyTo, results } from './helpers/entity-harness.js';

class Log extends Entity<string[]> {
  override initial(): string[] {
    return [];
  }
  append(item: string) {
    this.state = [...this.state, item];
    return this.state.length;
  }
  poke(target: string) {
    this.ctx.signalEntity(target, 'append', 'poke');
  }
}

const app = defineApp({ orchestrations: {}, entities: { log: Log } });

const A = 'log@a';
const B = 'log@b';
const HOLDER = { instanceId: 'holder-1', generation: 0, seq: 4 };
const OTHER = { instanceId: 'holder-2', generation: 0, seq: 2 };
const LOCK1 = 'holder-1/0/0/lock/4';
const LOCK2 = 'holder-2/0/0/lock/2';

const lockA = (lockId = LOCK1, holder = HOLDER) => em.lock(A, { lockId, holder, entities: [A, B], index: 0 });
const lockOnly = (lockId = LOCK1, holder = HOLDER, n = 1) => em.lock(A, { lockId, holder, entities: [A], n });
const append = (item: string, options: Parameters<typeof em.op>[3] = {}) => em.op(A, 'append', item, options);

describe('entity executor: locks', () => {
  it('takes the lock and forwards the request to the next entity, numbered from this entity', async () => {
    const out = await new EntityHarness(A, app).run(lockA());
    assert.deepEqual(out.data.lock, { lockId: LOCK1, holder: HOLDER });
    assert.deepEqual(grants(out.messages), []);
    assert.deepEqual(entityMessages(out.messages), [
      {
        id: `${LOCK1}/lock/1`,
        queue: 'orchestrations',
        instanceId: B,
        body: {
          type: 'EntityLock',
          lockId: LOCK1,
          holder: HOLDER,
          entities: [A, B],
          index: 1,
          sender: { id: A, n: 1 },
        },
        priority: PRIORITY.work,
      },
    ]);
  });

  it('numbers a forwarded lock request after the signals this entity already sent to the next entity', async () => {
    const h = new EntityHarness(A, app);
    await h.run(em.op(A, 'poke', B));
    const out = await h.run(lockA());
    assert.equal(entityMessages(out.messages)[0]?.body.sender.n, 2);
    assert.equal(out.data.sent[B], 2);
  });

  it('sends EntityLockGranted to the holder when it is the last entity of the section', async () => {
    const out = await new EntityHarness(B, app).run(
      em.lock(B, { lockId: LOCK1, holder: HOLDER, entities: [A, B], index: 1, from: A }),
    );
    assert.deepEqual(out.data.lock, { lockId: LOCK1, holder: HOLDER });
    assert.deepEqual(entityMessages(out.messages), []);
    assert.deepEqual(out.messages, [
      {
        id: 'holder-1/0/entity-result/4',
        queue: 'orchestrations',
        instanceId: 'holder-1',
        body: { type: 'EntityLockGranted', generation: 0, seq: 4 },
        priority: PRIORITY.reply,
      },
    ]);
  });

  it("queues other senders' operations in arrival order while locked and runs them after the unlock", async () => {
    const h = new EntityHarness(A, app);
    await h.run(lockOnly());
    const queued = await h.run([
      append('x1', { from: 'x/0', n: 1, replyTo: replyTo(0, 'x') }),
      append('client', { from: 'client' }),
      append('x2', { from: 'x/0', n: 2 }),
    ]);
    assert.equal(queued.data.exists, false, 'nothing ran');
    assert.deepEqual(queued.messages, []);
    assert.deepEqual(
      queued.data.queue.map((m) => m.body.type === 'EntityOperation' && m.body.input),
      ['x1', 'client', 'x2'],
    );
    const released = await h.run(em.unlock(A, LOCK1, { from: 'holder-1/0', n: 2 }));
    assert.equal(released.data.lock, undefined);
    assert.deepEqual(released.data.queue, []);
    assert.deepEqual(released.data.state, ['x1', 'client', 'x2']);
    assert.deepEqual(results(released.messages), [1]);
  });

  it("runs the holder's operations carrying its lockId at once, ahead of queued ones", async () => {
    const h = new EntityHarness(A, app);
    const out = await h.run([
      lockOnly(),
      append('other', { from: 'x/0', n: 1 }),
      append('mine', { from: 'holder-1/0', n: 2, lockId: LOCK1, replyTo: replyTo(5, 'holder-1') }),
    ]);
    assert.deepEqual(out.data.state, ['mine']);
    assert.deepEqual(results(out.messages.filter((m) => m.body.type === 'EntityResponse')), [1]);
    assert.equal(out.data.queue.length, 1);
    const after = await h.run(em.unlock(A, LOCK1, { from: 'holder-1/0', n: 3 }));
    assert.deepEqual(after.data.state, ['mine', 'other']);
  });

  it('queues an operation carrying a different lock id while the entity is locked', async () => {
    const h = new EntityHarness(A, app);
    const out = await h.run([lockOnly(), append('stale', { from: 'x/0', n: 1, lockId: LOCK2 })]);
    assert.equal(out.data.exists, false);
    assert.equal(out.data.queue.length, 1);
  });

  it('grants a queued lock request of a second holder right after the first unlock; later operations wait for the second unlock', async () => {
    const h = new EntityHarness(A, app);
    await h.run(lockOnly());
    await h.run([
      append('before', { from: 'x/0', n: 1 }),
      lockOnly(LOCK2, OTHER),
      append('after', { from: 'x/0', n: 2 }),
    ]);
    const first = await h.run(em.unlock(A, LOCK1, { from: 'holder-1/0', n: 2 }));
    assert.deepEqual(first.data.state, ['before']);
    assert.deepEqual(first.data.lock, { lockId: LOCK2, holder: OTHER });
    assert.deepEqual(
      grants(first.messages).map((m) => m.instanceId),
      ['holder-2'],
    );
    assert.equal(first.data.queue.length, 1);
    const inSection = await h.run(append('second holder', { from: 'holder-2/0', n: 2, lockId: LOCK2 }));
    assert.deepEqual(inSection.data.state, ['before', 'second holder']);
    const second = await h.run(em.unlock(A, LOCK2, { from: 'holder-2/0', n: 3 }));
    assert.equal(second.data.lock, undefined);
    assert.deepEqual(second.data.state, ['before', 'second holder', 'after']);
  });

  it('never takes a lock whose unlock arrived before the lock request (an abandoned section)', async () => {
    const h = new EntityHarness(B, app);
    // The unlock comes straight from the holder; the lock request is forwarded by A and arrives later.
    const early = await h.run(em.unlock(B, LOCK1, { from: 'holder-1/0', n: 1 }));
    assert.equal(early.data.released[LOCK1] !== undefined, true);
    const late = await h.run([
      em.lock(B, { lockId: LOCK1, holder: HOLDER, entities: [A, B], index: 1, from: A }),
      append('free', { from: 'client' }),
    ]);
    assert.equal(late.data.lock, undefined);
    assert.deepEqual(grants(late.messages), []);
    assert.deepEqual(late.data.state, ['free']);
    assert.deepEqual(late.data.released, {});
  });

  it('does not forward an abandoned lock request to the next entity', async () => {
    const h = new EntityHarness(A, app);
    await h.run(em.unlock(A, LOCK1, { from: 'elsewhere' }));
    const out = await h.run(lockA());
    assert.equal(out.data.lock, undefined);
    assert.deepEqual(out.messages, []);
  });

  it('changes nothing about the current lock on an unlock with a non-matching lockId', async () => {
    const h = new EntityHarness(A, app);
    await h.run([lockOnly(), append('queued', { from: 'x/0', n: 1 })]);
    const out = await h.run(em.unlock(A, LOCK2, { from: 'holder-2/0', n: 1 }));
    assert.deepEqual(out.data.lock, { lockId: LOCK1, holder: HOLDER });
    assert.equal(out.data.queue.length, 1);
    assert.equal(out.data.exists, false);
    assert.deepEqual(out.messages, []);
  });

  it('applies a lock, a call and an unlock from one holder in number order whatever order they arrive in', async () => {
    const h = new EntityHarness(A, app);
    const out = await h.run([
      em.unlock(A, LOCK1, { from: 'holder-1/0', n: 3 }),
      append('in section', { from: 'holder-1/0', n: 2, lockId: LOCK1 }),
      append('outsider', { from: 'x/0', n: 1 }),
      lockOnly(),
    ]);
    assert.deepEqual(out.data.state, ['outsider', 'in section']);
    assert.equal(out.data.lock, undefined);
    assert.deepEqual(out.data.released, {}, 'the unlock matched a held lock');
    assert.equal(grants(out.messages).length, 1);
  });

  it('drops a repeated lock request instead of taking the lock a second time', async () => {
    const h = new EntityHarness(A, app);
    const request = lockOnly();
    await h.run([request, em.unlock(A, LOCK1, { from: 'holder-1/0', n: 2 })]);
    const out = await h.run(request);
    assert.deepEqual(out.dropped, [request]);
    assert.equal(out.data.lock, undefined);
    assert.deepEqual(out.messages, []);
  });
});
