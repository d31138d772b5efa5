/**
 * The lock conformance suite. Every adapter runs it; it relies only on the lock contract
 * (src/backends/lock.ts). Expiry is driven by a ManualClock handed to the factory.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import type { Lock } from '../../src/backends/lock.js';
import { acquireAll, releaseAll } from '../../src/backends/lock.js';
import { uniqueId } from './helpers.js';

export interface LockFixture {
  /** A lock timed by the clock the suite passed in; closed after each test. */
  readonly lock: Lock;
  /** Runs after `close()`. */
  readonly cleanup?: () => Promise<void>;
}

const TTL = 1000;

/**
 * Declares the lock contract tests for one adapter.
 * @example
 * lockContract('MemoryLock', async (clock) => ({ lock: new MemoryLock({ clock }) }));
 */
export function lockContract(name: string, make: (clock: ManualClock) => Promise<LockFixture>): void {
  describe(`${name} (lock contract)`, () => {
    let clock: ManualClock;
    let fixture: LockFixture;
    let lock: Lock;
    let key: string;

    beforeEach(async () => {
      clock = new ManualClock(Date.UTC(2026, 0, 1));
      fixture = await make(clock);
      lock = fixture.lock;
      key = uniqueId('lock');
    });

    afterEach(async () => {
      await lock.close();
      await fixture.cleanup?.();
    });

    it('lets an owner acquire a free key, and keeps others out while it holds it', async () => {
      assert.equal(await lock.acquire(key, 'a', TTL), 'clean');
      assert.equal(await lock.acquire(key, 'b', TTL), false);
    });

    it('blocks a second owner until the TTL has passed on the clock', async () => {
      await lock.acquire(key, 'a', TTL);
      clock.advance(TTL - 1);
      assert.equal(await lock.acquire(key, 'b', TTL), false);
      clock.advance(1);
      assert.equal(await lock.acquire(key, 'b', TTL), 'taken-over', 'the first owner never released it');
      assert.equal(await lock.renew(key, 'a', TTL), false, 'the first owner lost the lock');
    });

    it('extends the lock on renew, from the time of the renewal', async () => {
      await lock.acquire(key, 'a', TTL);
      clock.advance(800);
      assert.equal(await lock.renew(key, 'a', TTL), true);
      clock.advance(800); // 1600 after acquiring: expired without the renewal
      assert.equal(await lock.acquire(key, 'b', TTL), false);
      clock.advance(200); // 1000 after renewing
      assert.equal(await lock.acquire(key, 'b', TTL), 'taken-over');
    });

    it('renews when the owner acquires the key it already holds', async () => {
      await lock.acquire(key, 'a', TTL);
      clock.advance(800);
      assert.equal(await lock.acquire(key, 'a', TTL), 'taken-over', 'a hold it never released');
      clock.advance(800);
      assert.equal(await lock.acquire(key, 'b', TTL), false);
      assert.equal(await lock.renew(key, 'a', TTL), true);
    });

    it('refuses to renew for anyone but the owner, leaving the lock with the owner', async () => {
      await lock.acquire(key, 'a', TTL);
      assert.equal(await lock.renew(key, 'b', TTL), false);
      assert.equal(await lock.acquire(key, 'b', TTL), false);
      assert.equal(await lock.renew(key, 'a', TTL), true);
    });

    it('refuses to renew a key that was never acquired', async () => {
      assert.equal(await lock.renew(key, 'a', TTL), false);
    });

    it('refuses to renew once the TTL has passed, even if nobody took the key', async () => {
      await lock.acquire(key, 'a', TTL);
      clock.advance(TTL);
      assert.equal(await lock.renew(key, 'a', TTL), false);
    });

    it('lets the owner take the key back after its TTL passed, if nobody else did', async () => {
      await lock.acquire(key, 'a', TTL);
      clock.advance(TTL * 5);
      assert.equal(await lock.acquire(key, 'a', TTL), 'taken-over');
      assert.equal(await lock.acquire(key, 'b', TTL), false);
    });

    it('frees the key at once when the owner releases it', async () => {
      await lock.acquire(key, 'a', TTL);
      await lock.release(key, 'a');
      assert.equal(await lock.acquire(key, 'b', TTL), 'clean', 'a released key was left cleanly');
    });

    it('ignores a release by anyone but the owner', async () => {
      await lock.acquire(key, 'a', TTL);
      await lock.release(key, 'b');
      assert.equal(await lock.acquire(key, 'b', TTL), false);
      assert.equal(await lock.renew(key, 'a', TTL), true);
    });

    it('ignores a release of a key that is not held', async () => {
      await lock.release(key, 'a');
      assert.equal(await lock.acquire(key, 'a', TTL), 'clean');
    });

    it('says a key was taken over when its holder let it expire, and clean once a holder released it', async () => {
      assert.equal(await lock.acquire(key, 'a', TTL), 'clean');
      clock.advance(TTL);
      assert.equal(await lock.acquire(key, 'b', TTL), 'taken-over');
      await lock.release(key, 'b');
      assert.equal(await lock.acquire(key, 'a', TTL), 'clean');
    });

    it('names the epoch its releases are remembered in', () => {
      assert.equal(typeof lock.epoch, 'string');
      assert.ok(lock.epoch.length > 0);
    });

    it('takes a batch of keys at once, deciding each as acquire would, and releases only its own', async () => {
      const [free, other, lapsed, mine] = ['free', 'other', 'lapsed', 'mine'].map((k) => `${key}-${k}`) as [
        string,
        string,
        string,
        string,
      ];
      await lock.acquire(lapsed, 'b', TTL);
      clock.advance(TTL);
      await lock.acquire(other, 'b', TTL);
      await lock.acquire(mine, 'a', TTL);
      assert.deepEqual(await acquireAll(lock, [free, other, lapsed, mine], 'a', TTL), [
        'clean',
        false,
        'taken-over',
        'taken-over',
      ]);
      await releaseAll(lock, [free, other, lapsed, mine], 'a');
      assert.equal(await lock.acquire(other, 'c', TTL), false, "another owner's key stays held");
      for (const k of [free, lapsed, mine]) assert.equal(await lock.acquire(k, 'c', TTL), 'clean', k);
    });

    it('keeps different keys independent', async () => {
      const other = uniqueId('lock');
      await lock.acquire(key, 'a', TTL);
      assert.equal(await lock.acquire(other, 'b', TTL), 'clean');
      await lock.release(other, 'b');
      assert.equal(await lock.acquire(key, 'b', TTL), false);
    });
  });
}
