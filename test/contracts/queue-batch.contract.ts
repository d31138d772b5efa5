/**
 * The queue's batch operations, as a conformance suite: `send` of many messages and `settle` (acks and releases in
 * one call). Every adapter runs it; it relies only on the queue contract (src/backends/queue.ts). Time is a
 * ManualClock handed to the factory: tests move it, they never sleep.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import type { Delivery, Queue } from '../../src/backends/queue.js';
import type { OrchestrationMessage } from '../../src/engine/messages.js';
import { track, uniqueId, untilSleeping } from './helpers.js';
import type { QueueFixture } from './queue.contract.js';

const VISIBILITY = 30_000;

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
 * Declares the batch queue tests for one adapter.
 * @example
 * queueBatchContract('MemoryQueue', async (clock) => ({ queue: new MemoryQueue({ clock }) }));
 */
export function queueBatchContract(name: string, make: (clock: ManualClock) => Promise<QueueFixture>): void {
  describe(`${name} (queue batch contract)`, () => {
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

    const receiveNow = (max = 10, visibilityTimeoutMs = VISIBILITY): Promise<Delivery[]> =>
      queue.receive('orchestrations', max, { visibilityTimeoutMs });
    const ids = (deliveries: readonly Delivery[]): string[] => deliveries.map((d) => d.message.id);

    /** Sends `count` messages and reserves them all, in send order. */
    async function reserved(count: number, visibilityTimeoutMs = VISIBILITY): Promise<Delivery[]> {
      const sent = Array.from({ length: count }, () => orchestration());
      await queue.send(sent);
      const deliveries = await receiveNow(count, visibilityTimeoutMs);
      assert.deepEqual(
        ids(deliveries),
        sent.map((m) => m.id),
      );
      return deliveries;
    }

    describe('send', () => {
      it('delivers every message of one send, in the order given', async () => {
        const sent = Array.from({ length: 150 }, () => orchestration());
        await queue.send(sent);
        const received: Delivery[] = [];
        for (let i = 0; i < 4 && received.length < sent.length; i++) received.push(...(await receiveNow(50)));
        assert.deepEqual(
          ids(received),
          sent.map((m) => m.id),
        );
      });

      it('writes nothing when one message of a send cannot be sent', async () => {
        const good = orchestration();
        const bad = { ...orchestration(), queue: 'nowhere' } as unknown as OrchestrationMessage;
        await assert.rejects(queue.send([good, bad]));
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });

      it('accepts an empty send', async () => {
        await queue.send([]);
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });
    });

    describe('settle', () => {
      it('acknowledges and releases, with and without delay, in one call', async () => {
        const [a, b, c, d] = await reserved(4);
        assert.ok(a && b && c && d);
        await queue.settle({
          ack: [a, b],
          release: [
            { delivery: c, delayMs: 0 },
            { delivery: d, delayMs: 500 },
          ],
        });
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 1, delayed: 1, reserved: 0, dead: 0 });
        const [now] = await receiveNow();
        assert.equal(now?.message.id, c.message.id);
        assert.equal(now?.attempt, 1, 'a release keeps the attempt');
        clock.advance(499);
        assert.deepEqual(await receiveNow(), []);
        clock.advance(1);
        const [later] = await receiveNow();
        assert.equal(later?.message.id, d.message.id);
        assert.equal(later?.attempt, 1);
        clock.advance(VISIBILITY * 2);
        assert.deepEqual(
          ids(await receiveNow()).sort(),
          [c.message.id, d.message.id].sort(),
          'the acknowledged messages never come back',
        );
      });

      it('skips stale receipts and still applies the rest of the batch', async () => {
        const [slow, other] = await reserved(2, 1000);
        assert.ok(slow && other);
        clock.advance(1000); // both reservations expire
        const redelivered = await receiveNow(1); // `slow` is reserved again by someone else
        assert.deepEqual(ids(redelivered), [slow.message.id]);
        assert.equal(redelivered[0]?.attempt, 2);
        await queue.settle({
          ack: [slow, other], // `slow` is stale; `other` expired but nobody took it, so it may still be honoured
          release: [{ delivery: slow, delayMs: 0 }],
        });
        const depth = await queue.depth('orchestrations');
        assert.equal(depth.reserved, 1, 'the live reservation is untouched');
        assert.equal(depth.dead, 0);
        assert.ok(depth.ready <= 1);
        await queue.settle({ ack: redelivered });
        clock.advance(VISIBILITY);
        assert.deepEqual(ids(await receiveNow()), depth.ready === 1 ? [other.message.id] : []);
      });

      it('does nothing for an empty batch or one of unknown receipts', async () => {
        const [delivery] = await reserved(1);
        assert.ok(delivery);
        await queue.settle({});
        await queue.settle({ ack: [], release: [] });
        await queue.settle({
          ack: [{ ...delivery, receipt: 'no-such-receipt' }],
          release: [{ delivery: { ...delivery, receipt: 'nor-this-one' }, delayMs: 0 }],
        });
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 0, reserved: 1, dead: 0 });
      });

      it('wakes a waiting receive when it releases a message, without the clock moving', async () => {
        const [delivery] = await reserved(1);
        assert.ok(delivery);
        const start = clock.now();
        const waiting = track(receiveWait());
        await untilSleeping(clock);
        assert.equal(waiting.settled(), false);
        await queue.settle({ release: [{ delivery, delayMs: 0 }] });
        assert.deepEqual(ids(await waiting.promise), [delivery.message.id]);
        assert.equal(clock.now(), start);
      });

      it('keeps a settled message acknowledged when it is settled again', async () => {
        const [delivery] = await reserved(1);
        assert.ok(delivery);
        await queue.settle({ ack: [delivery] });
        await queue.settle({ ack: [delivery], release: [{ delivery, delayMs: 0 }] });
        assert.deepEqual(await queue.depth('orchestrations'), { ready: 0, delayed: 0, reserved: 0, dead: 0 });
      });
    });

    function receiveWait(): Promise<Delivery[]> {
      return queue.receive('orchestrations', 1, { visibilityTimeoutMs: VISIBILITY, waitMs: 60_000 });
    }
  });
}
