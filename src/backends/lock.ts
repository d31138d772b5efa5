/**
 * The lock contract: mutual exclusion per instance, with expiry.
 *
 * WHAT IS IN THE CONTRACT
 * - `acquire(key, owner, ttlMs)` succeeds if the key is free, expired, or already held by `owner` (then it
 *   renews). `renew` extends a lock the owner still holds and fails otherwise; `release` frees it if the owner
 *   holds it (a no-op otherwise).
 * - Expiry is judged on the lock's clock: once `ttlMs` has passed without renewal (`now >= acquiredAt + ttl`),
 *   anyone may take the key, and `renew` fails even if nobody took it (the owner must `acquire` again).
 *
 * WHAT IS DELIBERATELY NOT
 * - Safety. The lock only keeps two workers from doing the same turn twice (efficiency). A worker can pause
 *   past its TTL and wake up believing it still holds the lock; the store's compare-and-set on the instance
 *   version is what rejects its commit. Nothing may assume a held lock means exclusive access.
 * - Fairness, queuing or blocking waits: a caller that fails to acquire retries later (its messages go back
 *   to the queue with a short delay).
 */

export interface Lock {
  acquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
  renew(key: string, owner: string, ttlMs: number): Promise<boolean>;
  release(key: string, owner: string): Promise<void>;
  close(): Promise<void>;
}
