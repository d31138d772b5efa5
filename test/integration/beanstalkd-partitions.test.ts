/**
 * Partitioned tubes on a real beanstalkd: a queue reserves only the orchestration and entity messages of the
 * partitions it watches, follows `watchPartitions` as holds move, reserves nothing while it holds none, and keeps
 * its watch set across a server restart (the setup replayed on reconnection).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BeanstalkdQueue } from '../../src/backends/beanstalkd/beanstalkd-queue.js';
import { partitionOf } from '../../src/backends/partitions.js';
import type { Delivery } from '../../src/backends/queue.js';
import type { OrchestrationMessage } from '../../src/engine/messages.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';

const PARTITIONS = 8;

function event(instanceId: string): OrchestrationMessage {
  return {
    id: `event-${randomUUID()}`,
    queue: 'orchestrations',
    instanceId,
    body: { type: 'EventRaised', name: 'go', input: instanceId },
  };
}

async function drain(queue: BeanstalkdQueue): Promise<Delivery[]> {
  const out: Delivery[] = [];
  for (;;) {
    const got = await queue.receive('orchestrations', 100, { visibilityTimeoutMs: 10_000, waitMs: 200 });
    if (got.length === 0) return out;
    out.push(...got);
    await queue.settle({ ack: got });
  }
}

const partitionsOf = (deliveries: readonly Delivery[]): Set<number> =>
  new Set(deliveries.map((d) => partitionOf(d.message.instanceId, PARTITIONS)));

describe('partitioned Beanstalkd tubes', function () {
  this.timeout(30_000);
  requireBeanstalkd();
  let server: BeanstalkdServer | undefined;
  const queues: BeanstalkdQueue[] = [];

  afterEach(async () => {
    for (const queue of queues.splice(0)) await queue.close();
    await server?.stop();
  });

  const open = (): BeanstalkdQueue => {
    const queue = new BeanstalkdQueue({
      port: (server as BeanstalkdServer).port,
      namespace: 'parts',
      partitions: PARTITIONS,
      reconnectTimeoutMs: 5000,
    });
    queues.push(queue);
    return queue;
  };

  it('gives each queue only the partitions it watches, follows a hand-over, and reserves nothing while it holds none', async () => {
    server = await BeanstalkdServer.start();
    const [a, b, client] = [open(), open(), open()];
    await a.watchPartitions([0, 1, 2, 3]);
    await b.watchPartitions([]);
    const ids = Array.from({ length: 80 }, (_, i) => `order-${i}`);
    await client.send(ids.map(event));

    const first = await drain(a);
    assert.deepEqual([...partitionsOf(first)].sort(), [0, 1, 2, 3]);
    assert.equal((await drain(b)).length, 0, 'a queue that holds no partition reserved something');

    // The rest changes hands: b takes partitions 4–7, then a gives up everything.
    await b.watchPartitions([4, 5, 6, 7]);
    await a.watchPartitions([]);
    const second = await drain(b);
    assert.deepEqual([...partitionsOf(second)].sort(), [4, 5, 6, 7]);
    assert.deepEqual([...first, ...second].map((d) => d.message.instanceId).sort(), [...ids].sort());
  });

  it('keeps watching the partitions it was last given after the server restarts', async () => {
    server = await BeanstalkdServer.start();
    const [a, client] = [open(), open()];
    await a.watchPartitions([5]);
    assert.equal((await drain(a)).length, 0);
    await server.kill('SIGKILL');
    await server.restart();
    const mine = Array.from({ length: 40 }, (_, i) => `job-${i}`);
    await client.send(mine.map(event));
    const got = await drain(a);
    assert.ok(got.length > 0, 'nothing of partition 5 was sent (pick other ids)');
    assert.deepEqual([...partitionsOf(got)], [5]);
    assert.equal(got.length, mine.filter((id) => partitionOf(id, PARTITIONS) === 5).length);
  });
});
