/**
 * The queue's optional `reclaim` capability, as a conformance suite for the adapters that have it (memory, SQLite):
 * a restarted process takes back, at once, the reservations its dead predecessor held. It relies only on the queue
 * contract (src/backends/queue.ts). Time is a ManualClock handed to the factory: tests move it, they never sleep.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import type { Delivery, Queue } from '../../src/backends/queue.js';
import type { ActivityMessage, OrchestrationMessage, QueueName } from '../../src/engine/messages.js';
import { eventually, track, uniqueId, untilSleeping } from './helpers.js';
import type { QueueFixture } from './queue.contract.js';

/** The activity lease's default: long enough that nothing expires unless a test moves the clock on purpose. */
const LEASE = 60_000;
const OLD_BOOT = 'boot-before-the-crash';
const NEW_BOOT = 'boot-after-the-restart';

function activity(): ActivityMessage {
  const id = uniqueId('activity');
  return {
    id,
    queue: 'activities',
    instanceId: uniqueId('instance'),
    body: {
      type: 'ActivityRequest',
      name: 'charge',
      input: { amount: 10 },
      generation: 0,
      seq: 1,
      attempt: 1,
      idempotencyKey: `${id}/key`,
    },
  };
}

function orchestration(): OrchestrationMessage {
  return {
    id: uniqueId('orchestration'),
    queue: 'orchestrations',
    instanceId: uniqueId('instance'),
    body: { type: 'EventRaised', name: 'approval', input: true },
  };
}

const ids = (deliveries: readonly Delivery[]): string[] => deliveries.map((d) => d.message.id);

/**
 * Declares the reclaim tests for one adapter whose queue has `reclaim`.
 * @example
 * queueReclaimContract('MemoryQueue', async (clock) => ({ queue: new MemoryQueue({ clock }) }));
 */
export function queueReclaimContract(name: string, make: (clock: ManualClock) => Promise<QueueFixture>): void {
  describe(`${name} (queue reclaim contract)`, () => {
    let clock: ManualClock;
    let fixture: QueueFixture;
    let queue: Queue;

    beforeEach(async () => {
      clock = new ManualClock(Date.UTC(2026, 0, 1));
      fixture = await make(clock);
      queue = fixture.queue;
    });

    afterEach(async () => {
      await queue.close();
      await fixture.cleanup?.();
    });

    function reclaim(except: string): Promise<number> {
      assert.equal(typeof queue.reclaim, 'function', `${name} has reclaim`);
      return (queue as Required<Queue>).reclaim(except);
    }

    const receiveAs = (consumer: string | undefined, name: QueueName, max = 10): Promise<Delivery[]> =>
      queue.receive(name, max, { visibilityTimeoutMs: LEASE, ...(consumer === undefined ? {} : { consumer }) });

    it("delivers a dead consumer's reserved messages again at once, with attempt 2, without the clock moving", async () => {
      const start = clock.now();
      const messages = [activity(), activity()];
      await queue.send(messages);
      assert.equal((await receiveAs(OLD_BOOT, 'activities')).length, 2);

      assert.equal(await reclaim(NEW_BOOT), 2);
      const again = await receiveAs(NEW_BOOT, 'activities');
      assert.deepEqual(
        ids(again),
        messages.map((m) => m.id),
      );
      assert.deepEqual(
        again.map((d) => d.attempt),
        [2, 2],
      );
      assert.equal(clock.now(), start);
    });

    it("leaves the reclaiming consumer's own reservations reserved and returns only what it took back", async () => {
      const [theirs, mine] = [orchestration(), orchestration()];
      await queue.send([theirs]);
      await receiveAs(OLD_BOOT, 'orchestrations');
      await queue.send([mine]);
      const [held] = await receiveAs(NEW_BOOT, 'orchestrations');
      assert.equal(held?.message.id, mine.id);

      assert.equal(await reclaim(NEW_BOOT), 1);
      assert.deepEqual(ids(await receiveAs(NEW_BOOT, 'orchestrations')), [theirs.id]);
      assert.deepEqual(await receiveAs(NEW_BOOT, 'orchestrations'), [], 'its own reservation still holds');
      await queue.ack(held);
      assert.equal((await queue.depth('orchestrations')).reserved, 1, 'only the reclaimed message is reserved');
    });

    it('takes back reservations of both queues, and those taken without naming a consumer', async () => {
      const [a, o] = [activity(), orchestration()];
      await queue.send([a, o]);
      await receiveAs(undefined, 'activities');
      await receiveAs(OLD_BOOT, 'orchestrations');

      assert.equal(await reclaim(NEW_BOOT), 2);
      assert.deepEqual(ids(await receiveAs(NEW_BOOT, 'activities')), [a.id]);
      assert.deepEqual(ids(await receiveAs(NEW_BOOT, 'orchestrations')), [o.id]);
    });

    it('changes nothing and returns 0 when no other consumer holds anything', async () => {
      const ready = activity();
      const delayed = { ...activity(), deliverAt: clock.now() + 5000 };
      await queue.send([ready, delayed]);
      assert.equal(await reclaim(NEW_BOOT), 0);
      assert.deepEqual(await queue.depth('activities'), { ready: 1, delayed: 1, reserved: 0, dead: 0 });
      const [delivery] = await receiveAs(NEW_BOOT, 'activities');
      assert.equal(delivery?.attempt, 1, 'a ready message reclaimed nothing: its attempt is unchanged');
    });

    it('counts a reservation that had already expired once: its message comes back with attempt 2', async () => {
      const message = activity();
      await queue.send([message]);
      await receiveAs(OLD_BOOT, 'activities');
      clock.advance(LEASE);

      assert.equal(await reclaim(NEW_BOOT), 0, 'the expiry took it back already');
      const [delivery] = await receiveAs(NEW_BOOT, 'activities');
      assert.equal(delivery?.attempt, 2);
    });

    it('counts each reclaim as a delivery, so a message that kills every process still reaches a high attempt', async () => {
      const message = activity();
      await queue.send([message]);
      let attempt = 0;
      for (let restart = 1; restart <= 3; restart++) {
        const [delivery] = await receiveAs(`boot-${restart}`, 'activities');
        attempt = delivery?.attempt ?? 0;
        assert.equal(await reclaim(`boot-${restart + 1}`), 1);
      }
      assert.equal(attempt, 3);
      assert.equal((await receiveAs('boot-4', 'activities'))[0]?.attempt, 4);
    });

    it('makes an ack from the old holder a no-op once the reclaimed message was reserved again', async () => {
      await queue.send([activity()]);
      const [old] = await receiveAs(OLD_BOOT, 'activities');
      await reclaim(NEW_BOOT);
      const [fresh] = await receiveAs(NEW_BOOT, 'activities');
      await queue.ack(old as Delivery);
      assert.equal((await queue.depth('activities')).reserved, 1, 'the new reservation stands');
      await queue.ack(fresh as Delivery);
      assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
    });

    it('wakes a receive waiting on the queue when it takes a reservation back, without the clock moving', async () => {
      const message = orchestration();
      await queue.send([message]);
      await receiveAs(OLD_BOOT, 'orchestrations');
      const waiting = track(
        queue.receive('orchestrations', 1, { visibilityTimeoutMs: LEASE, waitMs: 2 * LEASE, consumer: NEW_BOOT }),
      );
      await untilSleeping(clock);
      assert.equal(waiting.settled(), false);

      await reclaim(NEW_BOOT);
      assert.ok(await eventually(waiting.settled), 'the waiting receive did not see the reclaimed message');
      assert.deepEqual(ids(await waiting.promise), [message.id]);
    });
  });
}
