/**
 * The lock contract: mutual exclusion per instance, with expiry.
 *
 * WHAT IS IN THE CONTRACT
 * - `acquire(key, owner, ttlMs)` succeeds if the key is free, expired, or already held by `owner` (then it
 *   renews). `renew` extends a lock the owner still holds and fails otherwise; `release` frees it if the owner
 *   holds it (a no-op otherwise).
 * - A successful `acquire` says how the previous hold ended: `'clean'` when the key was released (or never held),
 *   `'taken-over'` when a hold was never released (it expired, or `owner` itself still has it). A holder releases
 *   only once everything it did under the lock is finished, so `'taken-over'` means "its work may be half
 *   done": the runtime then re-sends the instance's outbox. A lock vouches for releases only within its `epoch`
 *   (an in-process lock forgets everything when its process dies: its epoch is new with every process).
 * - Expiry is judged on the lock's clock: once `ttlMs` has passed without renewal (`now >= acquiredAt + ttl`),
 *   anyone may take the key, and `renew` fails even if nobody took it (the owner must `acquire` again).
 *
 * - Optionally, `acquireMany` and `releaseMany` do the same for a batch of keys in one round trip (and one write
 *   where the backend can): each key is still decided on its own, results in key order. A worker takes the locks of
 *   a whole batch of instances at once; on a lock whose every write is a replicated disk write (RethinkDB,
 *   Kubernetes), one write per instance per turn is what bounds a cluster. {@link acquireAll} and
 *   {@link releaseAll} fall back to one call per key for adapters without them.
 *
 * WHAT IS DELIBERATELY NOT
 * - Safety. The lock only keeps two workers from doing the same turn twice (efficiency). A worker can pause
 *   past its TTL and wake up believing it still holds the lock; the store's compare-and-set on the instance
 *   version is what rejects its commit. Nothing may assume a held lock means exclusive access.
 * - Fairness, queuing or blocking waits: a caller that fails to acquire retries later (its messages go back
 *   to the queue with a short delay).
 */

/**
 * A successful acquire: `'clean'` (the previous holder released the key, or nobody held it) or `'taken-over'` (a
 * hold that was never released: its holder may have died halfway). `false`: someone else holds the key.
 */
export type LockAcquisition = 'clean' | 'taken-over' | false;

export interface Lock {
  /**
   * Names what this lock remembers releases across: a `'clean'` acquire vouches only for holders of the same epoch.
   * Stable across processes for a shared lock (SQLite, Kubernetes); new in every process for an in-process lock.
   */
  readonly epoch: string;
  acquire(key: string, owner: string, ttlMs: number): Promise<LockAcquisition>;
  /** `acquire` for each of `keys` (distinct), decided one by one, in one round trip; results in key order. */
  acquireMany?(keys: readonly string[], owner: string, ttlMs: number): Promise<LockAcquisition[]>;
  renew(key: string, owner: string, ttlMs: number): Promise<boolean>;
  release(key: string, owner: string): Promise<void>;
  /** `release` for each of `keys`, in one round trip. */
  releaseMany?(keys: readonly string[], owner: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Acquires every key for `owner`: in one call where the lock offers `acquireMany`, else one `acquire` per key (at
 * once). Results in key order.
 * @example
 * const results = await acquireAll(lock, ['orchestration/a', 'orchestration/b'], 'worker-1', 10_000);
 */
export function acquireAll(
  lock: Lock,
  keys: readonly string[],
  owner: string,
  ttlMs: number,
): Promise<LockAcquisition[]> {
  if (keys.length === 0) return Promise.resolve([]);
  if (lock.acquireMany) return lock.acquireMany(keys, owner, ttlMs);
  return Promise.all(keys.map((key) => lock.acquire(key, owner, ttlMs)));
}

/** Releases every key `owner` holds: in one call where the lock offers `releaseMany`, else one `release` per key. */
export async function releaseAll(lock: Lock, keys: readonly string[], owner: string): Promise<void> {
  if (keys.length === 0) return;
  if (lock.releaseMany) return lock.releaseMany(keys, owner);
  await Promise.all(keys.map((key) => lock.release(key, owner)));
}
