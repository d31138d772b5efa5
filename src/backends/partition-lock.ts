/**
 * The instance lock as partition ownership (partitions.ts): a key may be acquired by this process exactly when it
 * holds the key's partition. No call leaves the process: acquiring and releasing instance locks costs nothing, and
 * the only writes are the partition leases' renewals, whatever the rate of turns.
 *
 * What `acquire` says about the previous hold of a key (the runtime re-sends an outbox unless it is `'clean'`, see
 * runtime/outbox.ts) is decided per key within the current hold of its partition:
 * - a key released by this process since the hold began is `'clean'` (its outbox was sent before the release);
 * - a key acquired and never released (its batch failed) is `'taken-over'`;
 * - a key not seen yet in this hold inherits how the hold began: `'clean'` when the previous holder released the
 *   partition (it releases only after everything it committed was sent and no key of it is left unreleased), else
 *   `'taken-over'` (the previous holder died or was cut off: any of its instances may have an unsent outbox).
 * A new hold of a partition (after it was seen not held) starts without the previous hold's keys.
 */
import type { Lock, LockAcquisition } from './lock.js';
import type { PartitionHold, PartitionOwnership } from './partitions.js';
import { partitionOf } from './partitions.js';

/** The instance id inside a runtime lock key (`orchestration/<id>`, `entity/<id>`); other keys stand for themselves. */
function instanceOfKey(key: string): string {
  const slash = key.indexOf('/');
  const kind = slash > 0 ? key.slice(0, slash) : '';
  return kind === 'orchestration' || kind === 'entity' ? key.slice(slash + 1) : key;
}

/** Released keys remembered per partition hold. */
const MAX_REMEMBERED = 50_000;

interface HoldState {
  /** Keys acquired and not (yet) released in this hold. */
  readonly unreleased: Set<string>;
  /** Keys released cleanly in this hold. */
  readonly released: Set<string>;
}

/**
 * @example
 * const lock = new PartitionLock(64, 'kubernetes:prod/shop');
 * lock.attach(leases);
 * await lock.acquire('orchestration/order-42', workerId, 10_000); // 'clean' | 'taken-over' | false, no I/O
 */
export class PartitionLock implements Lock {
  private readonly holds = new Map<number, HoldState>();
  /** Partitions being given up: their keys are refused, so no new turn starts while the last ones end. */
  private readonly closing = new Set<number>();
  /**
   * Partitions seen not held since their state was made. Their state is kept, not dropped: the ownership stops
   * answering for a partition as soon as it starts draining it, and the drain still has to read its unreleased keys.
   * The next hold of the partition starts from nothing.
   */
  private readonly ended = new Set<number>();
  private ownership: PartitionOwnership | undefined;
  private unsubscribe: (() => void) | undefined;

  /**
   * `epoch`: the same for every process of the deployment, since a clean partition release vouches across them.
   * Until {@link attach} gives it an ownership, the lock holds nothing (a client process never does).
   */
  constructor(
    readonly partitions: number,
    readonly epoch: string,
  ) {}

  /** Takes its holds from `ownership` from now on (a worker, once its partition leases run). */
  attach(ownership: PartitionOwnership): void {
    if (ownership.partitions !== this.partitions) {
      throw new Error(`The ownership has ${ownership.partitions} partitions, the lock ${this.partitions}.`);
    }
    this.unsubscribe?.();
    this.ownership = ownership;
    // Notes every hold that ended, and forgets the old state of every partition held anew, as soon as the
    // ownership says so (not only on the next acquire: a partition given up and held again must be granted again,
    // or its tubes would never be watched and no acquire would come).
    this.unsubscribe = ownership.onChange(() => {
      for (const partition of new Set([...this.holds.keys(), ...this.closing, ...this.ended])) this.holding(partition);
    });
  }

  acquire(key: string, _owner: string, _ttlMs: number): Promise<LockAcquisition> {
    return Promise.resolve(this.take(key));
  }

  acquireMany(keys: readonly string[], _owner: string, _ttlMs: number): Promise<LockAcquisition[]> {
    return Promise.resolve(keys.map((key) => this.take(key)));
  }

  /** Held as long as its partition is (the lease's renewals are the partition's, not the key's). */
  renew(key: string, _owner: string, _ttlMs: number): Promise<boolean> {
    const partition = this.partitionOfKey(key);
    return Promise.resolve(
      this.holding(partition) !== false && this.holds.get(partition)?.unreleased.has(key) === true,
    );
  }

  release(key: string, _owner: string): Promise<void> {
    const state = this.holds.get(this.partitionOfKey(key));
    if (state?.unreleased.delete(key)) {
      state.released.add(key);
      // Forgetting the oldest only costs, should its partition's hold have been taken over, one re-sent outbox.
      if (state.released.size > MAX_REMEMBERED) state.released.delete(state.released.values().next().value as string);
    }
    return Promise.resolve();
  }

  releaseMany(keys: readonly string[], owner: string): Promise<void> {
    for (const key of keys) void this.release(key, owner);
    return Promise.resolve();
  }

  /** Whether turns of `partition` may start here now: it is held and not being given up. */
  granting(partition: number): boolean {
    return this.holding(partition) !== false;
  }

  /** From now until the partition is lost, refuses its keys: it is being given up. */
  stopGranting(partition: number): void {
    this.closing.add(partition);
  }

  /** Keys of `partition` acquired in this hold and never released: their partition must not be released cleanly. */
  unreleasedIn(partition: number): number {
    return this.holds.get(partition)?.unreleased.size ?? 0;
  }

  /** Stops following the ownership and closes it: its partitions are released (each drained first). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.ownership?.close();
  }

  /**
   * The ownership's hold on `partition`, unless it is being given up. A partition seen not held is noted as ended
   * (its state kept for the drain); seen held again, it is a new hold, and the old state is dropped.
   */
  private holding(partition: number): PartitionHold | false {
    const hold = this.ownership?.holding(partition) ?? false;
    if (hold === false) {
      if (this.holds.has(partition) || this.closing.has(partition)) this.ended.add(partition);
      return false;
    }
    if (this.ended.delete(partition)) {
      this.holds.delete(partition);
      this.closing.delete(partition);
    }
    return this.closing.has(partition) ? false : hold;
  }

  private partitionOfKey(key: string): number {
    return partitionOf(instanceOfKey(key), this.partitions);
  }

  private take(key: string): LockAcquisition {
    const partition = this.partitionOfKey(key);
    // Not held, or being given up: refused, and what its keys owe (unreleased ones) is kept for the drain to see.
    const hold = this.holding(partition);
    if (hold === false) return false;
    let state = this.holds.get(partition);
    if (state === undefined) {
      state = { unreleased: new Set(), released: new Set() };
      this.holds.set(partition, state);
    }
    const acquisition: LockAcquisition = state.released.has(key)
      ? 'clean'
      : state.unreleased.has(key)
        ? 'taken-over'
        : hold;
    state.released.delete(key);
    state.unreleased.add(key);
    return acquisition;
  }
}
