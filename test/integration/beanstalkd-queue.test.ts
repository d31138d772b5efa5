/**
 * BeanstalkdQueue against a real beanstalkd, in real time: what beanstalkd times itself (delays, TTR) and what
 * the contract suite cannot show (dying consumers, a killed server, claim-checks). Waits are bounded and short
 * (TTR 1 s, delays 1-2 s): beanstalkd has no time travel.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BeanstalkdQueue } from '../../src/backends/beanstalkd/beanstalkd-queue.js';
import type { BeanstalkdQueueOptions } from '../../src/backends/beanstalkd/beanstalkd-queue.js';
import { MemoryClaimStore } from '../../src/backends/beanstalkd/claim-store.js';
import type { Delivery } from '../../src/backends/queue.js';
import type { ActivityMessage, EntityMessage, OrchestrationMessage } from '../../src/engine/messages.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';

function activity(overrides: Partial<ActivityMessage> = {}): ActivityMessage {
  const id = overrides.id ?? `activity-${randomUUID()}`;
  return {
    id,
    queue: 'activities',
    instanceId: 'instance-1',
    body: { type: 'ActivityRequest', name: 'charge', input: 1, generation: 0, seq: 1, attempt: 1, idempotencyKey: id },
    ...overrides,
  };
}

function entityOperation(entity: string, operation = 'add'): EntityMessage {
  return {
    id: `op-${randomUUID()}`,
    queue: 'orchestrations',
    instanceId: `${entity}@k1`,
    body: { type: 'EntityOperation', operation, input: 1, sender: { id: 'client' } },
  };
}

function event(): OrchestrationMessage {
  return {
    id: `event-${randomUUID()}`,
    queue: 'orchestrations',
    instanceId: 'order-1',
    body: { type: 'EventRaised', name: 'approved', input: true },
  };
}

describe('BeanstalkdQueue in real time', function () {
  this.timeout(30_000);
  requireBeanstalkd();
  let server: BeanstalkdServer;
  const open: BeanstalkdQueue[] = [];

  before(async () => {
    server = await BeanstalkdServer.start();
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close()));
  });

  let namespace = '';
  beforeEach(() => {
    namespace = `t${randomUUID()}`;
  });
  /** A queue on this test's tubes (several calls share them, like several workers). */
  function queue(options: BeanstalkdQueueOptions = {}): BeanstalkdQueue {
    const q = new BeanstalkdQueue({ port: server.port, namespace, ttrMs: { activities: 1000 }, ...options });
    open.push(q);
    return q;
  }
  const wait = (q: BeanstalkdQueue, waitMs: number): Promise<Delivery[]> =>
    q.receive('activities', 10, { visibilityTimeoutMs: 1000, waitMs });

  it('redelivers a message whose consumer hung past the TTR, with attempt 2, and ignores the late ack', async function () {
    if (process.env.BEANSTALKD_TTR_RELIABLE !== '1') {
      console.log(
        '      skipped: beanstalkd 1.12 (Debian bookworm) may never time out a silent connection’s reservations ' +
          '(beanstalkd#262, PR #334), so TTR expiry of a hung consumer is not deterministic here; ' +
          'set BEANSTALKD_TTR_RELIABLE=1 with a server that reschedules in conn_timeout.',
      );
      this.skip();
    }
    const producer = queue({ ttrMs: { activities: 2000 } });
    const hung = queue();
    const healthy = queue();
    const message = activity();
    await producer.send([message]);
    const [first] = await hung.receive('activities', 1, { visibilityTimeoutMs: 2000, waitMs: 1000 });
    assert.equal(first?.attempt, 1);
    const [second] = await wait(healthy, 8000); // TTR 2 s; generous bound for a loaded machine
    assert.deepEqual(second?.message, message);
    assert.equal(second?.attempt, 2);
    await hung.ack(first); // the hung worker wakes up: its reservation is gone, so this changes nothing
    assert.equal((await healthy.depth('activities')).reserved, 1);
    await healthy.ack(second);
    assert.deepEqual(await healthy.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
  });

  it('redelivers a message whose consumer died (its connection closed) with attempt 2, acknowledged once', async () => {
    const dying = queue();
    const survivor = queue();
    const message = activity();
    await survivor.send([message]);
    assert.equal((await wait(dying, 1000)).length, 1);
    await dying.close();
    const redelivered = await wait(survivor, 3000);
    assert.deepEqual(
      redelivered.map((d) => [d.message.id, d.attempt]),
      [[message.id, 2]],
    );
    await survivor.ack(redelivered[0] as Delivery);
    assert.deepEqual(await wait(survivor, 1500), [], 'acknowledged once, never delivered again');
  });

  it('never delivers a delayed message early, even when its delay is not whole seconds', async () => {
    const q = queue();
    const deliverAt = Date.now() + 1200;
    await q.send([activity({ deliverAt })]);
    const [delivery] = await wait(q, 4000);
    assert.ok(delivery !== undefined, 'the delayed message was never delivered');
    assert.ok(Date.now() >= deliverAt, `delivered ${deliverAt - Date.now()} ms early`);
    assert.equal(delivery.attempt, 1);
  });

  it('holds back a message reserved before its deliverAt (a receiver whose clock lags the sender) for the rest of the delay', async () => {
    const skew = 1500;
    const behind = { now: () => Date.now() - skew, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };
    // The sender's clock says deliverAt is now; the receiver's says it is 1.5 s away: it must wait.
    const sender = queue();
    const receiver = queue({ clock: behind });
    await sender.send([activity({ deliverAt: Date.now() })]);
    assert.deepEqual(await wait(receiver, 0), []);
    assert.equal((await receiver.depth('activities')).delayed, 1);
    const [later] = await wait(receiver, 4000);
    assert.equal(later?.attempt, 1, 'holding back is not an attempt');
  });

  it('makes a released message visible again only after the delay, keeping its attempt', async () => {
    const q = queue({ ttrMs: { activities: 30_000 } });
    await q.send([activity()]);
    const [delivery] = await wait(q, 1000);
    const released = Date.now();
    await q.release(delivery as Delivery, 1000);
    assert.deepEqual(await q.depth('activities'), { ready: 0, delayed: 1, reserved: 0, dead: 0 });
    const [again] = await wait(q, 4000);
    assert.ok(Date.now() - released >= 1000, 'released message came back early');
    assert.equal(again?.attempt, 1);
  });

  it('delivers control messages before replies before new work', async () => {
    const q = queue();
    const work = activity({ priority: 100 });
    const reply = activity({ priority: 10 });
    const control = activity({ priority: 0 });
    await q.send([work, reply, control]);
    const got = await q.receive('activities', 3, { visibilityTimeoutMs: 1000 });
    assert.deepEqual(
      got.map((d) => d.message.id),
      [control.id, reply.id, work.id],
    );
  });

  it('round-trips a 1 MiB message through the claim store and drops the claim on ack', async () => {
    const claims = new MemoryClaimStore();
    const q = queue({ claimStore: claims, ttrMs: { activities: 30_000 } });
    const big = activity({ body: { ...activity().body, input: 'x'.repeat(1024 * 1024) } });
    await q.send([big]);
    assert.equal(claims.entries.size, 1);
    const [delivery] = await wait(q, 1000);
    assert.deepEqual(delivery?.message, big);
    await q.ack(delivery);
    assert.equal(claims.entries.size, 0);
  });

  it('refuses a message over the job size limit when there is no claim store, sending nothing', async () => {
    const q = queue();
    const big = activity({ body: { ...activity().body, input: 'x'.repeat(70_000) } });
    await assert.rejects(q.send([activity(), big]), /no claim store/);
    assert.equal((await q.depth('activities')).ready, 0);
  });

  it('lists dead letters with their reasons across queue objects, leaving the list as it was', async () => {
    const a = queue({ ttrMs: { activities: 30_000 } });
    const b = queue();
    const first = activity();
    const second = activity();
    await a.send([first, second]);
    const [d1, d2] = await a.receive('activities', 2, { visibilityTimeoutMs: 1000 });
    await a.deadLetter(d1 as Delivery, 'poison');
    await a.deadLetter(d2 as Delivery, 'also poison');
    const expected = [
      { message: first, reason: 'poison' },
      { message: second, reason: 'also poison' },
    ];
    assert.deepEqual(await b.deadLetters('activities'), expected);
    assert.deepEqual(await a.deadLetters('activities'), expected, 'listing leaves the list as it was');
    assert.equal((await a.depth('activities')).dead, 2);
  });

  it('loses no message when beanstalkd is killed with SIGKILL under load and restarted on its binlog', async () => {
    const q = queue({ ttrMs: { activities: 30_000 }, reconnectTimeoutMs: 10_000 });
    const acknowledged = new Set<string>();
    let killed = false;
    // A producer that retries a send whose outcome it could not learn, as the outbox does.
    const produce = async (): Promise<void> => {
      for (let i = 0; i < 400; i++) {
        const message = activity({ id: `load-${i}` });
        for (;;) {
          try {
            await q.send([message]);
            acknowledged.add(message.id);
            break;
          } catch {
            // lost connection: send again (duplicates are allowed, losses are not)
          }
        }
        if (i === 200) {
          killed = true;
          await server.kill('SIGKILL');
          setTimeout(() => void server.restart(), 300);
        }
      }
    };
    await produce();
    assert.ok(killed);
    const received = new Set<string>();
    for (;;) {
      const batch = await q.receive('activities', 100, { visibilityTimeoutMs: 30_000, waitMs: 500 });
      if (batch.length === 0) break;
      await q.settle({ ack: batch });
      for (const d of batch) received.add(d.message.id);
    }
    const lost = [...acknowledged].filter((id) => !received.has(id));
    assert.deepEqual(lost, [], `${lost.length} acknowledged sends were lost`);
    assert.equal(acknowledged.size, 400);
  });

  describe('tubes', () => {
    const ids = (deliveries: Delivery[]): string[] => deliveries.map((d) => d.message.id).sort();

    it('puts orchestrations, entities and activities in their own tubes, so a worker can serve entities only', async () => {
      const producer = queue();
      const entitiesOnly = queue({ serves: { kinds: ['entities'] } });
      const op = entityOperation('counter');
      const orchestration = event();
      const work = activity();
      await producer.send([op, orchestration, work]);
      assert.deepEqual(ids(await entitiesOnly.receive('orchestrations', 10, { visibilityTimeoutMs: 1000 })), [op.id]);
      assert.deepEqual(await entitiesOnly.receive('activities', 10, { visibilityTimeoutMs: 1000 }), []);
      const depths = new Map((await producer.tubeDepths()).map((t) => [t.tube, t.depth.ready]));
      assert.deepEqual(Object.fromEntries(depths), {
        [`${namespace}.orchestrations`]: 1,
        [`${namespace}.entities`]: 0,
        [`${namespace}.activities`]: 1,
      });
    });

    it('gives each activity and entity type its own tube with per-function routing, served by name', async () => {
      const producer = queue({
        tubes: 'function',
        serves: { functions: { entities: ['counter', 'account'], activities: ['charge', 'ship it'] } },
      });
      const chargeOnly = queue({
        tubes: 'function',
        serves: { kinds: ['activities'], functions: { activities: ['charge'] } },
      });
      const counterOnly = queue({
        tubes: 'function',
        serves: { kinds: ['entities'], functions: { entities: ['counter'] } },
      });
      const charge = activity();
      const ship = activity({ body: { ...activity().body, name: 'ship it' } });
      const counter = entityOperation('counter');
      const account = entityOperation('account');
      await producer.send([charge, ship, counter, account]);
      assert.deepEqual(ids(await chargeOnly.receive('activities', 10, { visibilityTimeoutMs: 1000 })), [charge.id]);
      assert.deepEqual(ids(await counterOnly.receive('orchestrations', 10, { visibilityTimeoutMs: 1000 })), [
        counter.id,
      ]);
      const depths = Object.fromEntries((await producer.tubeDepths()).map((t) => [t.tube, t.depth]));
      assert.equal(depths[`${namespace}.activities.ship$20it`]?.ready, 1, 'a space in a name is escaped in its tube');
      assert.equal(depths[`${namespace}.activities.charge`]?.reserved, 1);
      assert.equal(depths[`${namespace}.entities.account`]?.ready, 1);
      assert.deepEqual(await producer.depth('activities'), { ready: 1, delayed: 0, reserved: 1, dead: 0 });
    });

    it('refuses per-function routing without the names to serve, and names without per-function routing', () => {
      assert.throws(() => queue({ tubes: 'function' }), /name the entities to serve/);
      assert.throws(() => queue({ serves: { functions: { activities: ['charge'] } } }), /needs per-function tubes/);
    });
  });

  it('renews a live reservation with touch and refuses a receipt that is no longer held', async () => {
    const q = queue({ ttrMs: { activities: 30_000 } });
    await q.send([activity()]);
    const [delivery] = await wait(q, 1000);
    assert.ok(delivery);
    assert.equal(await q.touch(delivery, 30_000), true);
    await q.ack(delivery);
    assert.equal(await q.touch(delivery, 30_000), false, 'an acknowledged receipt cannot be renewed');
  });

  it('redrives a message whose consumers kept dying with attempt 1 again', async () => {
    const survivor = queue();
    const message = activity();
    await survivor.send([message]);
    for (let i = 0; i < 2; i++) {
      const dying = queue();
      assert.equal((await wait(dying, 1000)).length, 1);
      await dying.close();
    }
    const [third] = await wait(survivor, 3000);
    assert.equal(third?.attempt, 3);
    await survivor.deadLetter(third, 'poison');
    assert.deepEqual(
      (await survivor.redrive('activities')).map((m) => m.id),
      [message.id],
    );
    const [again] = await wait(survivor, 1000);
    assert.equal(again?.attempt, 1, 'a redriven message starts over');
  });

  it('redrives a dead-lettered 1 MiB message as a fresh delivery, keeping its claim until the new copy is acknowledged', async () => {
    const claims = new MemoryClaimStore();
    const q = queue({ claimStore: claims, ttrMs: { activities: 30_000 } });
    const big = activity({ body: { ...activity().body, input: 'x'.repeat(1024 * 1024) } });
    await q.send([big]);
    const [delivery] = await wait(q, 1000);
    await q.deadLetter(delivery as Delivery, 'poison');
    const redriven = await q.redrive('activities', [big.id]);
    assert.deepEqual(
      redriven.map((m) => m.id),
      [big.id],
    );
    assert.deepEqual(await q.deadLetters('activities'), []);
    const [again] = await wait(q, 1000);
    assert.deepEqual(again?.message, big);
    assert.equal(again?.attempt, 1, 'a redriven message starts over');
    assert.equal(claims.entries.size, 1);
    await q.ack(again);
    assert.equal(claims.entries.size, 0);
  });
});
