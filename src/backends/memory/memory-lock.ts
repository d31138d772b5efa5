/**
 * The in-memory lock: the reference implementation of the lock contract, for tests and single-process runs.
 */
import type { Clock } from '../clock.js';
import { randomUUID } from 'node:crypto';
import type { Lock, LockAcquisition } from '../lock.js';

interface Holder {
  readonly owner: string;
  /** Epoch ms on the lock's clock; from this instant on, the key is free. */
  readonly expiresAt: number;
}

/**
 * A {@link Lock} held in process memory, with expiry judged on an injected {@link Clock}.
 *
 * A key is held by `owner` while `clock.now() < expiresAt`; an expired entry is simply free (it is
 * overwritten by the next acquire, so no sweeping is needed). Like every lock, it is an efficiency device
 * only: the store's compare-and-set is what keeps a paused worker from committing.
 * @example
 * const lock = new MemoryLock({ clock: new SystemClock() });
 * if (await lock.acquire('instance:42', 'worker-1', 30_000)) {
 *   try { await runTurn(); } finally { await lock.release('instance:42', 'worker-1'); }
 * }
 */
export class MemoryLock implements Lock {
  /** A process's memory: a lock in another process (or before a restart) cannot vouch for these releases. */
  readonly epoch = `memory:${randomUUID()}`;
  private readonly clock: Clock;
  private readonly holders = new Map<string, Holder>();

  constructor(options: { clock: Clock }) {
    this.clock = options.clock;
  }

  acquire(key: string, owner: string, ttlMs: number): Promise<LockAcquisition> {
    if (!validTtl(ttlMs)) return Promise.reject(badTtl('acquire', ttlMs));
    const now = this.clock.now();
    const holder = this.held(key, now);
    // Free, expired, or ours already (then this is a renewal).
    if (holder !== undefined && holder.owner !== owner) return Promise.resolve(false);
    // Released entries are deleted, so any entry left is a hold that never ended cleanly.
    const previous = this.holders.has(key) ? 'taken-over' : 'clean';
    this.holders.set(key, { owner, expiresAt: now + ttlMs });
    return Promise.resolve(previous);
  }

  renew(key: string, owner: string, ttlMs: number): Promise<boolean> {
    if (!validTtl(ttlMs)) return Promise.reject(badTtl('renew', ttlMs));
    const now = this.clock.now();
    // Only a lock still held: once the TTL has passed the owner has lost it, even if nobody took it since,
    // and must find out (its work may already be running elsewhere).
    if (this.held(key, now)?.owner !== owner) return Promise.resolve(false);
    this.holders.set(key, { owner, expiresAt: now + ttlMs });
    return Promise.resolve(true);
  }

  release(key: string, owner: string): Promise<void> {
    // Only the owner's entry (even an expired one, which is free anyway); never someone else's.
    if (this.holders.get(key)?.owner === owner) this.holders.delete(key);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The current holder of `key`, or undefined if it is free or expired. */
  private held(key: string, now: number): Holder | undefined {
    const holder = this.holders.get(key);
    return holder !== undefined && now < holder.expiresAt ? holder : undefined;
  }
}

function validTtl(ttlMs: number): boolean {
  return Number.isFinite(ttlMs) && ttlMs > 0;
}

function badTtl(operation: string, ttlMs: number): Error {
  return new Error(`Lock ${operation}: ttlMs must be a positive finite number, got ${ttlMs}.`);
}
