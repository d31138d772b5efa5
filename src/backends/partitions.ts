/**
 * Partitions: a fixed number of shards of the instance id space, each owned by at most one worker at a time.
 *
 * Locking every instance per turn costs two writes per turn in the lock's store; on Kubernetes Leases (etcd writes
 * shared with the whole cluster) that cannot scale. Instead the instance ids are split into `partitions` by a
 * stable hash, a worker holds whole partitions for a lease that it renews, and it takes turns only for instances
 * of the partitions it holds. The writes then depend on the number of partitions and workers, not on the rate of
 * turns. On Beanstalkd each partition has its own tubes, so a worker only ever receives messages it may handle.
 *
 * Every process of one deployment (workers and clients) must use the same number of partitions: the number decides
 * which tube a message is put on.
 */

/** How many partitions a deployment has by default (`DURABLE_PARTITIONS`). */
export const DEFAULT_PARTITIONS = 64;

/** The most partitions a deployment may have (each is a Lease and two tubes). */
export const MAX_PARTITIONS = 1024;

/**
 * The partition of an instance id (or any key): FNV-1a (32 bit) of its UTF-8 bytes, modulo `partitions`. Stable
 * across processes, machines and versions: changing it would strand messages in tubes nobody watches.
 * @example
 * partitionOf('order-42', 64); // always the same number in 0..63
 */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** How a hold on a partition began: released cleanly by its previous holder (or never held), or taken over. */
export type PartitionHold = 'clean' | 'taken-over';

/**
 * Which partitions this process holds now. Implemented on Kubernetes Leases (kubernetes/partition-leases.ts).
 *
 * It is guaranteed that `holding(p)` is false from the moment this process can no longer be sure of its hold: a
 * renewal overdue by more than the lease minus a safety margin (a pause, a partition from the API server) ends the
 * hold locally before any other process can take the partition over.
 */
export interface PartitionOwnership {
  readonly partitions: number;
  /** How this process came to hold `partition`, if it holds it now with time to spare; `false` otherwise. */
  holding(partition: number): PartitionHold | false;
  /** The partitions held now, ascending. */
  held(): number[];
  /** Calls `listener` whenever the held set may have changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Releases every hold cleanly (after the drain hook has run for each) and stops renewing. */
  close(): Promise<void>;
}
