import assert from 'node:assert/strict';
import { PartitionLock } from '../../src/backends/partition-lock.js';
import type { PartitionHold, PartitionOwnership } from '../../src/backends/partitions.js';
import { partitionOf } from '../../src/backends/partitions.js';
import { BeanstalkdTubes } from '../../src/backends/beanstalkd/beanstalkd-tubes.js';
import { messageId } from '../../src/engine/messages.js';
import type { Message } from '../../src/engine/messages.js';

/** Ownership whose holds a test sets by hand. */
class HandOwnership implements PartitionOwnership {
  readonly holds = new Map<number, PartitionHold>();
  private readonly listeners = new Set<() => void>();
  constructor(readonly partitions: number) {}
  holding(partition: number): PartitionHold | false {
    return this.holds.get(partition) ?? false;
  }
  held(): number[] {
    return [...this.holds.keys()].sort((a, b) => a - b);
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(partition: number, hold: PartitionHold | false): void {
    if (hold === false) this.holds.delete(partition);
    else this.holds.set(partition, hold);
    for (const listener of this.listeners) listener();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** An instance id whose partition (of `n`) is `partition`. */
function idIn(partition: number, n: number, prefix = 'order'): string {
  for (let i = 0; ; i++) if (partitionOf(`${prefix}-${i}`, n) === partition) return `${prefix}-${i}`;
}

describe('partitions', () => {
  it('maps an id to the same partition every time, spreading ids evenly', () => {
    // Fixed values: changing the hash would strand messages in tubes nobody watches after an upgrade.
    assert.deepEqual(
      ['a', 'order-42', 'counter@page-1', 'é'].map((id) => partitionOf(id, 64)),
      [44, 52, 12, 1], // FNV-1a 32: "a" is 0xe40c292c
    );
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`instance-${i}`, 16)]! += 1;
    for (const count of counts) assert.ok(count > 800 && count < 1200, `uneven: ${counts.join(', ')}`);
  });
});

describe('PartitionLock', () => {
  it('grants a key only while its partition is held, with no call outside the process', async () => {
    const ownership = new HandOwnership(8);
    const lock = new PartitionLock(ownership.partitions, 'kubernetes:test');
    lock.attach(ownership);
    const a = idIn(3, 8);
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), false);
    ownership.set(3, 'clean');
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'clean');
    assert.equal(await lock.renew(`orchestration/${a}`, 'w', 1000), true);
    ownership.set(3, false);
    assert.equal(await lock.renew(`orchestration/${a}`, 'w', 1000), false);
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), false);
  });

  it('says taken-over for keys of a partition taken over, until this process has released each one', async () => {
    const ownership = new HandOwnership(8);
    const lock = new PartitionLock(ownership.partitions, 'kubernetes:test');
    lock.attach(ownership);
    const [a, b] = [idIn(5, 8, 'a'), idIn(5, 8, 'b')];
    ownership.set(5, 'taken-over');
    assert.deepEqual(await lock.acquireMany([`orchestration/${a}`, `entity/${b}`], 'w', 1000), [
      'taken-over',
      'taken-over',
    ]);
    await lock.releaseMany([`orchestration/${a}`, `entity/${b}`], 'w');
    // Released by this process in this hold: the outbox went out before the release.
    assert.deepEqual(await lock.acquireMany([`orchestration/${a}`, `entity/${b}`], 'w', 1000), ['clean', 'clean']);
  });

  it('says taken-over again for a key whose batch failed (acquired, never released)', async () => {
    const ownership = new HandOwnership(4);
    const lock = new PartitionLock(ownership.partitions, 'kubernetes:test');
    lock.attach(ownership);
    const a = idIn(1, 4);
    ownership.set(1, 'clean');
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'clean');
    assert.equal(lock.unreleasedIn(1), 1);
    // No release: the batch failed after its commit, perhaps before its send.
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'taken-over');
    await lock.release(`orchestration/${a}`, 'w');
    assert.equal(lock.unreleasedIn(1), 0);
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'clean');
  });

  it('forgets a hold that ended: after the partition came back taken over, released keys are suspect again', async () => {
    const ownership = new HandOwnership(4);
    const lock = new PartitionLock(ownership.partitions, 'kubernetes:test');
    lock.attach(ownership);
    const a = idIn(2, 4);
    ownership.set(2, 'clean');
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'clean');
    await lock.release(`orchestration/${a}`, 'w');
    ownership.set(2, false); // another worker held it meanwhile, and died
    ownership.set(2, 'taken-over');
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'taken-over');
  });
});

describe('PartitionLock while a partition is given up', () => {
  it('refuses new turns of a partition being given up, and still counts its unreleased keys', async () => {
    const ownership = new HandOwnership(4);
    const lock = new PartitionLock(ownership.partitions, 'kubernetes:test');
    lock.attach(ownership);
    const [a, b] = [idIn(0, 4, 'a'), idIn(0, 4, 'b')];
    ownership.set(0, 'clean');
    assert.equal(await lock.acquire(`orchestration/${a}`, 'w', 1000), 'clean'); // a batch that will fail
    lock.stopGranting(0);
    assert.equal(await lock.acquire(`orchestration/${b}`, 'w', 1000), false);
    // The ownership stops answering for a partition as soon as it starts draining it (and says so): the drain, which
    // runs after that, must still see the unreleased key, and not release the partition cleanly.
    ownership.set(0, false);
    assert.equal(await lock.acquire(`orchestration/${b}`, 'w', 1000), false);
    assert.equal(lock.unreleasedIn(0), 1, 'the drain must see the unreleased key and not release cleanly');
    ownership.set(0, 'taken-over'); // back later, a new hold: granting again, knowing nothing of the old one
    // Granted as soon as the ownership says so, before any acquire: the worker watches the tubes of what it grants.
    assert.equal(lock.granting(0), true);
    assert.equal(await lock.acquire(`orchestration/${b}`, 'w', 1000), 'taken-over');
    assert.equal(lock.unreleasedIn(0), 1, 'only b, acquired in the new hold');
  });
});

describe('partitioned tubes', () => {
  const message = (instanceId: string, type: 'TimerFired' | 'EntityOperation'): Message =>
    ({
      id: messageId(instanceId, 0, 'x', 1),
      instanceId,
      queue: 'orchestrations',
      priority: 'reply',
      body: type === 'TimerFired' ? { type, seq: 1, generation: 0 } : { type, operation: 'add' },
    }) as unknown as Message;

  it("puts orchestration and entity messages on their partition's tubes, activities on the shared one", () => {
    const tubes = new BeanstalkdTubes('shop', 'kind', 16);
    const order = idIn(7, 16);
    assert.equal(tubes.tubeOf(message(order, 'TimerFired')), 'shop.orchestrations.p7');
    const counter = `counter@${idIn(9, 16, 'page')}`;
    assert.equal(tubes.tubeOf(message(counter, 'EntityOperation')), `shop.entities.p${partitionOf(counter, 16)}`);
    assert.deepEqual(tubes.watched('orchestrations', {}, [7, 9]), [
      'shop.orchestrations.p7',
      'shop.entities.p7',
      'shop.orchestrations.p9',
      'shop.entities.p9',
    ]);
    assert.equal(tubes.watched('orchestrations').length, 32);
    assert.deepEqual(tubes.watched('activities'), ['shop.activities']);
    assert.throws(() => new BeanstalkdTubes('shop', 'kind', 2000), /partitions must be an integer from 0 to 1024/);
  });
});
