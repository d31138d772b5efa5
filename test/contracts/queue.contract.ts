/**
 * The queue conformance suite. Every adapter runs it; it relies only on the queue contract
 * (src/backends/queue.ts). Time is a ManualClock handed to the factory: tests move it, they never sleep.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import type { Delivery, Queue } from '../../src/backends/queue.js';
import type { ActivityMessage, OrchestrationMessage, QueueName } from '../../src/engine/messages.js';
import { eventually, tick, track, uniqueId, untilSleeping } from './helpers.js';

export interface QueueFixture {
  /** A queue whose two queues are empty, timed by the clock the suite passed in; closed after each test. */
  readonly queue: Queue;
  /** Runs after `close()`. */
  readonly cleanup?: () => Promise<void>;
}

/** Long enough that no reservation expires unless a test moves the clock on purpose. */
const VISIBILITY = 30_000;

function activity(overrides: Partial<ActivityMessage> = {}): ActivityMessage {
  const id = overrides.id ?? uniqueId('activity');
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
    ...overrides,
  };
}

function orchestration(overrides: Partial<OrchestrationMessage> = {}): OrchestrationMessage {
  return {
    id: uniqueId('orchestration'),
    queue: 'orchestrations',
    instanceId: uniqueId('instance'),
    body: { type: 'EventRaised', name: 'approval', input: true },
    ...overrides,
  };
}

/**
 * Declares the queue contract tests for one adapter.
 * @example
 * queueContract('MemoryQueue', async (clock) => ({ queue: new MemoryQueue({ clock }) }));
 */
export function queueContract(name: string, make: (clock: ManualClock) => Promise<QueueFixture>): void {
  describe(`${name} (queue contract)`, () => {
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

    /** Receives one message at a time, so the order of deliveries is the queue's order. */
    async function receiveOneByOne(name: QueueName, count: number): Promise<Delivery[]> {
      const deliveries: Delivery[] = [];
      for (let i = 0; i < count; i++) {
        deliveries.push(...(await queue.receive(name, 1, { visibilityTimeoutMs: VISIBILITY })));
      }
      return deliveries;
    }

    const receiveNow = (name: QueueName, max = 10): Promise<Delivery[]> =>
      queue.receive(name, max, { visibilityTimeoutMs: VISIBILITY });
    const ids = (deliveries: readonly Delivery[]): string[] => deliveries.map((d) => d.message.id);

    describe('delivery', () => {
      it('delivers a sent message with attempt 1, and never again once acknowledged', async () => {
        const message = activity();
        await queue.send([message]);
        const [delivery, ...rest] = await receiveNow('activities');
        assert.ok(delivery !== undefined);
        assert.deepEqual(rest, []);
        assert.deepEqual(delivery.message, message);
        assert.equal(delivery.attempt, 1);
        await queue.ack(delivery);
        clock.advance(VISIBILITY * 2);
        assert.deepEqual(await receiveNow('activities'), []);
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });

      it('keeps the two queues apart', async () => {
        const message = activity();
        await queue.send([message]);
        assert.deepEqual(await receiveNow('orchestrations'), []);
        assert.deepEqual(ids(await receiveNow('activities')), [message.id]);
      });

      it('hands out at most max messages per receive', async () => {
        await queue.send([orchestration(), orchestration(), orchestration()]);
        assert.equal((await receiveNow('orchestrations', 2)).length, 2);
        assert.equal((await receiveNow('orchestrations', 2)).length, 1);
      });

      it('delivers message content as JSON, unaffected by later changes to the sent object', async () => {
        const input = { items: [1, { two: 2 }], at: new Date(Date.UTC(2026, 0, 2)), missing: undefined };
        const message = activity({ body: { ...activity().body, input } });
        await queue.send([message]);
        input.items.push(3);
        const [delivery] = await receiveNow('activities');
        assert.deepEqual(delivery?.message.body, {
          ...message.body,
          input: { items: [1, { two: 2 }], at: '2026-01-02T00:00:00.000Z' },
        });
      });

      it('does not deliver a delayed message before the clock reaches its deliverAt', async () => {
        const soon = orchestration({ deliverAt: clock.now() + 1 });
        const later = orchestration({ deliverAt: clock.now() + 1000 });
        await queue.send([soon, later]);
        assert.deepEqual(await receiveNow('orchestrations'), []);
        clock.advance(1);
        assert.deepEqual(ids(await receiveNow('orchestrations')), [soon.id]);
        clock.advance(998);
        assert.deepEqual(await receiveNow('orchestrations'), []);
        clock.advance(1);
        assert.deepEqual(ids(await receiveNow('orchestrations')), [later.id]);
      });

      it('delivers a message whose deliverAt is already past at once', async () => {
        const message = orchestration({ deliverAt: clock.now() - 1000 });
        await queue.send([message]);
        assert.deepEqual(ids(await receiveNow('orchestrations')), [message.id]);
      });

      it('delivers lower priority numbers first, treating a missing priority as 100', async () => {
        const p100 = orchestration({ priority: 100 });
        const none = orchestration();
        const p101 = orchestration({ priority: 101 });
        const p0 = orchestration({ priority: 0 });
        const p10 = orchestration({ priority: 10 });
        await queue.send([p100, none, p101, p0, p10]);
        assert.deepEqual(ids(await receiveOneByOne('orchestrations', 5)), [p0.id, p10.id, p100.id, none.id, p101.id]);
      });

      it('delivers messages of equal priority in the order they were sent', async () => {
        const sent = [activity(), activity(), activity(), activity()];
        await queue.send(sent.slice(0, 2));
        await queue.send(sent.slice(2));
        assert.deepEqual(
          ids(await receiveOneByOne('activities', 4)),
          sent.map((m) => m.id),
        );
      });
    });

    describe('reservations', () => {
      it('does not hand out a reserved message again while its reservation lasts', async () => {
        await queue.send([activity()]);
        await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        clock.advance(999);
        assert.deepEqual(await receiveNow('activities'), []);
      });

      it('delivers a message again, with attempt 2, when its reservation expires', async () => {
        const message = activity();
        await queue.send([message]);
        const [first] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        clock.advance(1000);
        const [second] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        assert.equal(second?.message.id, message.id);
        assert.equal(second?.attempt, 2);
        assert.notEqual(second?.receipt, first?.receipt);
      });

      it('ignores an ack on a stale receipt: the redelivered message stays reserved', async () => {
        await queue.send([activity()]);
        const [first] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        clock.advance(1000);
        const [second] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        assert.ok(first !== undefined && second !== undefined);
        await queue.ack(first);
        await queue.release(first);
        await queue.deadLetter(first, 'stale');
        await queue.ack({ ...first, receipt: 'no-such-receipt' });
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
        clock.advance(1000); // the live reservation expires too: the message was never lost
        const [third] = await receiveNow('activities');
        assert.ok(third !== undefined);
        assert.equal(third.attempt, 3);
        await queue.ack(third);
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });

      it('makes a released message visible again after the delay, keeping its attempt', async () => {
        const message = orchestration();
        await queue.send([message]);
        const [delivery] = await receiveNow('orchestrations');
        await queue.release(delivery as Delivery, 500);
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 1, reserved: 0, dead: 0 });
        clock.advance(499);
        assert.deepEqual(await receiveNow('orchestrations'), []);
        clock.advance(1);
        const [again] = await receiveNow('orchestrations');
        assert.equal(again?.message.id, message.id);
        assert.equal(again?.attempt, 1);
      });

      it('makes a message released without delay visible at once', async () => {
        await queue.send([orchestration()]);
        const [delivery] = await receiveNow('orchestrations');
        await queue.release(delivery as Delivery);
        assert.equal((await receiveNow('orchestrations')).length, 1);
      });

      it('parks a dead-lettered message: counted as dead, listed with its reason, never delivered again', async () => {
        const message = activity();
        await queue.send([message]);
        const [delivery] = await receiveNow('activities');
        await queue.deadLetter(delivery as Delivery, 'poison: crashed the worker 5 times');
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 1 });
        assert.deepEqual(await queue.deadLetters('activities'), [
          { message, reason: 'poison: crashed the worker 5 times' },
        ]);
        assert.deepEqual(await queue.deadLetters('orchestrations'), []);
        clock.advance(VISIBILITY * 10);
        assert.deepEqual(await receiveNow('activities'), []);
      });

      it('never gives the same message to two concurrent receivers', async () => {
        const sent = Array.from({ length: 20 }, () => activity());
        await queue.send(sent);
        const batches = await Promise.all(Array.from({ length: 10 }, () => receiveNow('activities', 3)));
        const received = batches.flatMap(ids);
        assert.equal(new Set(received).size, received.length, 'a message was delivered twice');
        assert.deepEqual([...received].sort(), sent.map((m) => m.id).sort());
      });
    });

    describe('touch', () => {
      it('keeps a touched reservation past its original expiry, delivering the message again only when it ends', async () => {
        const message = activity();
        await queue.send([message]);
        const [delivery] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        assert.ok(delivery !== undefined);
        clock.advance(600);
        assert.equal(await queue.touch(delivery, 1000), true);
        clock.advance(600); // past the original expiry (1000), before the new one (1600)
        assert.deepEqual(await receiveNow('activities'), []);
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
        clock.advance(400);
        const [again] = await receiveNow('activities');
        assert.equal(again?.message.id, message.id);
        assert.equal(again?.attempt, 2);
      });

      it('lets a touched delivery be acknowledged as usual', async () => {
        await queue.send([activity()]);
        const [delivery] = await receiveNow('activities');
        assert.ok(delivery !== undefined);
        assert.equal(await queue.touch(delivery, VISIBILITY), true);
        assert.equal(await queue.touch(delivery, VISIBILITY), true, 'a reservation can be extended again and again');
        await queue.ack(delivery);
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });

      it('refuses to touch an acknowledged, released or dead-lettered receipt, changing nothing', async () => {
        const [acked, released, dead] = [activity(), activity(), activity()];
        await queue.send([acked, released, dead]);
        const deliveries = await receiveOneByOne('activities', 3);
        const [a, r, d] = deliveries;
        assert.ok(a !== undefined && r !== undefined && d !== undefined);
        await queue.ack(a);
        await queue.release(r);
        await queue.deadLetter(d, 'poison');
        for (const stale of deliveries) assert.equal(await queue.touch(stale, VISIBILITY), false);
        assert.equal(await queue.touch({ ...a, receipt: 'no-such-receipt' }, VISIBILITY), false);
        assert.deepEqual(await queue.depth('activities'), { ready: 1, delayed: 0, reserved: 0, dead: 1 });
        assert.deepEqual(await queue.deadLetters('activities'), [{ message: dead, reason: 'poison' }]);
        const [again] = await receiveNow('activities');
        assert.equal(again?.message.id, released.id, 'the released message is still visible, not reserved');
      });

      it('refuses to touch a receipt whose message was delivered again, leaving the new reservation as it was', async () => {
        const message = activity();
        await queue.send([message]);
        const [first] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        clock.advance(1000);
        const [second] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        assert.ok(first !== undefined && second !== undefined);
        assert.equal(await queue.touch(first, 60_000), false);
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
        clock.advance(1000); // the second reservation expires when it always would have
        const [third] = await receiveNow('activities');
        assert.equal(third?.message.id, message.id);
        assert.equal(third?.attempt, 3);
      });
    });

    describe('deleting dead letters', () => {
      async function buryAll(...messages: ActivityMessage[]): Promise<void> {
        await queue.send(messages);
        const deliveries = await receiveNow('activities', messages.length);
        for (const message of messages) {
          const delivery = deliveries.find((d) => d.message.id === message.id);
          assert.ok(delivery !== undefined);
          await queue.deadLetter(delivery, 'poison');
        }
      }

      it('deletes the dead letters named, ignoring unknown ids, and leaves the others and live messages alone', async () => {
        const [a, b, c] = [activity(), activity(), activity()];
        await buryAll(a, b, c);
        const live = activity();
        await queue.send([live]);
        assert.deepEqual(await queue.deleteDeadLetters('activities', [c.id, 'no-such-message', a.id, live.id]), [
          a.id,
          c.id,
        ]);
        assert.deepEqual(await queue.deadLetters('activities'), [{ message: b, reason: 'poison' }]);
        assert.deepEqual(await queue.depth('activities'), { ready: 1, delayed: 0, reserved: 0, dead: 1 });
        assert.deepEqual(await queue.redrive('activities', [a.id, c.id]), [], 'a deleted dead letter is gone for good');
      });

      it('deletes every dead letter of one queue when no ids are given', async () => {
        const [a, b] = [activity(), activity()];
        await buryAll(a, b);
        assert.deepEqual(await queue.deleteDeadLetters('orchestrations'), []);
        assert.deepEqual(await queue.deleteDeadLetters('activities'), [a.id, b.id]);
        assert.deepEqual(await queue.deadLetters('activities'), []);
        assert.deepEqual(await queue.unreadableDeadLetters('activities'), []);
        assert.equal((await queue.depth('activities')).dead, 0);
      });
    });

    describe('redrive', () => {
      /** Sends the messages, receives them and dead-letters them in the order given, each with reason `why <id>`. */
      async function bury(...messages: ActivityMessage[]): Promise<void> {
        await queue.send(messages);
        const deliveries = await receiveNow('activities', messages.length);
        assert.equal(deliveries.length, messages.length);
        for (const message of messages) {
          const delivery = deliveries.find((d) => d.message.id === message.id);
          assert.ok(delivery !== undefined);
          await queue.deadLetter(delivery, `why ${message.id}`);
        }
      }

      it('puts every dead letter of a queue back as a fresh delivery with attempt 1, in dead-letter order', async () => {
        const [a, b, c] = [activity(), activity(), activity()];
        await bury(c, a, b);
        const other = orchestration();
        await queue.send([other]);
        const [otherDelivery] = await receiveNow('orchestrations');
        await queue.deadLetter(otherDelivery as Delivery, 'stays');

        assert.deepEqual(await queue.redrive('activities'), [c, a, b]);
        assert.deepEqual(await queue.deadLetters('activities'), []);
        assert.deepEqual(await queue.depth('activities'), { ready: 3, delayed: 0, reserved: 0, dead: 0 });
        const deliveries = await receiveNow('activities');
        assert.deepEqual(ids(deliveries).sort(), [a.id, b.id, c.id].sort());
        assert.deepEqual(
          deliveries.map((d) => d.attempt),
          [1, 1, 1],
        );
        assert.deepEqual(await queue.deadLetters('orchestrations'), [{ message: other, reason: 'stays' }]);
      });

      it('puts back only the dead letters whose ids are given, ignoring unknown ids', async () => {
        const [a, b, c] = [activity(), activity(), activity()];
        await bury(a, b, c);
        assert.deepEqual(await queue.redrive('activities', [c.id, 'no-such-message', a.id]), [a, c]);
        assert.deepEqual(await queue.deadLetters('activities'), [{ message: b, reason: `why ${b.id}` }]);
        assert.deepEqual(await queue.depth('activities'), { ready: 2, delayed: 0, reserved: 0, dead: 1 });
        const deliveries = await receiveNow('activities');
        assert.deepEqual(ids(deliveries).sort(), [a.id, c.id].sort());
        assert.ok(deliveries.every((d) => d.attempt === 1));
      });

      it('leaves messages that are not dead letters alone, and returns nothing when nothing matches', async () => {
        const live = activity();
        await queue.send([live]);
        const [delivery] = await receiveNow('activities');
        assert.deepEqual(await queue.redrive('activities'), []);
        assert.deepEqual(await queue.redrive('activities', [live.id]), []);
        assert.deepEqual(await queue.redrive('orchestrations', [live.id]), []);
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
        await queue.ack(delivery as Delivery); // the reservation is still the one it was
        assert.deepEqual(await queue.depth('activities'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });

      it('forgets the old reason: a redriven message dead-lettered again lists only its new one', async () => {
        const message = activity();
        await bury(message);
        await queue.redrive('activities', [message.id]);
        const [delivery] = await receiveNow('activities');
        await queue.deadLetter(delivery as Delivery, 'failed again');
        assert.deepEqual(await queue.deadLetters('activities'), [{ message, reason: 'failed again' }]);
        assert.equal((await queue.depth('activities')).dead, 1);
      });

      it('wakes a waiting receive when a dead letter is redriven, without the clock moving', async () => {
        const message = activity();
        await bury(message);
        const waiting = track(queue.receive('activities', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 60_000 }));
        await untilSleeping(clock);
        assert.equal(waiting.settled(), false);
        await queue.redrive('activities');
        assert.deepEqual(ids(await waiting.promise), [message.id]);
      });

      it('redrives a message that had been delivered several times with attempt 1 again', async () => {
        const message = activity();
        await queue.send([message]);
        await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        clock.advance(1000);
        const [second] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        assert.equal(second?.attempt, 2);
        await queue.deadLetter(second, 'crashed twice');
        await queue.redrive('activities');
        const [fresh] = await receiveNow('activities');
        assert.equal(fresh?.message.id, message.id);
        assert.equal(fresh?.attempt, 1);
      });
    });

    describe('waiting', () => {
      it('wakes a waiting receive when a message is sent, without the clock moving', async () => {
        const start = clock.now();
        const waiting = track(queue.receive('orchestrations', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 60_000 }));
        await untilSleeping(clock);
        assert.equal(waiting.settled(), false);
        const message = orchestration();
        await queue.send([message]);
        assert.deepEqual(ids(await waiting.promise), [message.id]);
        assert.equal(clock.now(), start);
      });

      it('returns nothing once waitMs has passed on the clock', async () => {
        const waiting = track(queue.receive('orchestrations', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 1000 }));
        await untilSleeping(clock);
        clock.advance(999);
        await tick();
        assert.equal(waiting.settled(), false);
        clock.advance(1);
        assert.ok(await eventually(waiting.settled), 'receive did not return when waitMs passed');
        assert.deepEqual(await waiting.promise, []);
      });

      it('wakes a waiting receive when a delayed message becomes visible', async () => {
        const message = orchestration({ deliverAt: clock.now() + 500 });
        await queue.send([message]);
        const waiting = track(queue.receive('orchestrations', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 60_000 }));
        await untilSleeping(clock);
        clock.advance(500);
        assert.ok(await eventually(waiting.settled), 'receive slept past the delayed message');
        assert.deepEqual(ids(await waiting.promise), [message.id]);
      });

      it('stops waiting when the signal aborts, returning nothing', async () => {
        const abort = new AbortController();
        const waiting = track(
          queue.receive('orchestrations', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 60_000, signal: abort.signal }),
        );
        await untilSleeping(clock);
        abort.abort();
        assert.ok(await eventually(waiting.settled), 'receive ignored the abort');
        assert.deepEqual(await waiting.promise, []);
      });

      it('gives each message sent to several waiting receivers to only one of them', async () => {
        const waiters = Array.from({ length: 5 }, () =>
          queue.receive('activities', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 10_000 }),
        );
        await untilSleeping(clock);
        const sent = [activity(), activity(), activity()];
        await queue.send(sent);
        await tick();
        clock.advance(10_000); // lets the receivers that got nothing give up
        const received = (await Promise.all(waiters)).flatMap(ids);
        assert.deepEqual([...received].sort(), sent.map((m) => m.id).sort());
      });
    });

    describe('depth and nextVisibleAt', () => {
      it('counts ready, delayed, reserved and dead messages, an expired reservation counting as ready', async () => {
        await queue.send([activity({ priority: 0 }), activity({ priority: 0 }), activity()]);
        await queue.send([activity({ deliverAt: clock.now() + 5000 })]);
        const [reserved] = await queue.receive('activities', 1, { visibilityTimeoutMs: 1000 });
        const [dead] = await receiveNow('activities', 1);
        await queue.deadLetter(dead as Delivery, 'bad');
        assert.ok(reserved !== undefined);
        assert.deepEqual(await queue.depth('activities'), { ready: 1, delayed: 1, reserved: 1, dead: 1 });
        clock.advance(1000);
        assert.deepEqual(await queue.depth('activities'), { ready: 2, delayed: 1, reserved: 0, dead: 1 });
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });

      it('reports when the next delayed or reserved message becomes visible by itself', async () => {
        assert.equal(await queue.nextVisibleAt('orchestrations'), undefined);
        const start = clock.now();
        await queue.send([orchestration({ deliverAt: start + 5000 })]);
        assert.equal(await queue.nextVisibleAt('orchestrations'), start + 5000);
        await queue.send([orchestration()]);
        assert.equal(await queue.nextVisibleAt('orchestrations'), start + 5000, 'a ready message is already visible');
        const [delivery] = await queue.receive('orchestrations', 1, { visibilityTimeoutMs: 1000 });
        assert.equal(await queue.nextVisibleAt('orchestrations'), start + 1000);
        await queue.ack(delivery as Delivery);
        assert.equal(await queue.nextVisibleAt('orchestrations'), start + 5000);
        assert.equal(await queue.nextVisibleAt('activities'), undefined);
      });
    });
  });
}
