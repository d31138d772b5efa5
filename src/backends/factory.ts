/**
 * Builds the backends named by the configuration. Drivers are imported lazily, so a process never loads a
 * driver it does not use.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DurableConfig } from '../config/config.js';
import type { TubeSelection } from './beanstalkd/beanstalkd-tubes.js';
import type { Clock } from './clock.js';
import type { GroupCommit } from './group-commit.js';
import type { Lock } from './lock.js';
import type { Queue } from './queue.js';
import type { Store } from './store.js';

export interface Backends {
  readonly store: Store;
  readonly queue: Queue;
  readonly lock: Lock;
  /** Present when the store and the queue share one transactional database (SQLite). */
  readonly groupCommit?: GroupCommit;
  /** Closes all three. */
  close(): Promise<void>;
}

/**
 * `serves` picks the Beanstalkd tubes the queue reserves from (a worker serving part of the work); the embedded
 * queues ignore it.
 * @example
 * const backends = await openBackends(loadConfig(), new SystemClock());
 */
export async function openBackends(config: DurableConfig, clock: Clock, serves?: TubeSelection): Promise<Backends> {
  if (config.beanstalkd) return withBeanstalkdQueue(config, clock, serves);
  if (config.backend === 'memory') {
    const { MemoryStore } = await import('./memory/memory-store.js');
    const { MemoryQueue } = await import('./memory/memory-queue.js');
    const { MemoryLock } = await import('./memory/memory-lock.js');
    return assemble(new MemoryStore(), new MemoryQueue({ clock }), new MemoryLock({ clock }));
  }
  const { SqliteDatabase } = await import('./sqlite/sqlite-database.js');
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  const { SqliteQueue } = await import('./sqlite/sqlite-queue.js');
  mkdirSync(dirname(config.sqlite.path), { recursive: true });
  const database = SqliteDatabase.open({ path: config.sqlite.path, durability: config.sqlite.durability });
  try {
    const store = new SqliteStore({ database });
    const queue = new SqliteQueue({ database, clock });
    let lock: Lock;
    if (config.lock === 'sqlite') {
      const { SqliteLock } = await import('./sqlite/sqlite-lock.js');
      lock = new SqliteLock({ database, clock });
    } else {
      const { MemoryLock } = await import('./memory/memory-lock.js');
      lock = new MemoryLock({ clock });
    }
    const { SqliteGroupCommit } = await import('./sqlite/sqlite-group-commit.js');
    return assemble(store, queue, lock, new SqliteGroupCommit(database, store, queue));
  } finally {
    database.close(); // the adapters hold their own references
  }
}

function assemble(store: Store, queue: Queue, lock: Lock, groupCommit?: GroupCommit): Backends {
  return {
    store,
    queue,
    lock,
    ...(groupCommit ? { groupCommit } : {}),
    close: async () => {
      await queue.close();
      await lock.close();
      await store.close();
    },
  };
}

/**
 * The store and lock as configured, the queue on Beanstalkd. Message bodies over Beanstalkd's job size limit go
 * through a claim check kept in the store. No group commit: the queue is not in the store's database.
 */
async function withBeanstalkdQueue(
  config: DurableConfig,
  clock: Clock,
  serves: TubeSelection | undefined,
): Promise<Backends> {
  const local = await openBackends({ ...config, beanstalkd: undefined }, clock);
  await local.queue.close();
  const { BeanstalkdQueue } = await import('./beanstalkd/beanstalkd-queue.js');
  const { store, lock } = local;
  const queue = new BeanstalkdQueue({
    ...config.beanstalkd,
    ...(serves ? { serves } : {}),
    ttrMs: { orchestrations: config.turnTimeoutMs, activities: config.activityLeaseMs },
    clock,
    claimStore: {
      put: (key, json) => store.putClaim(key, json),
      get: (key) => store.getClaim(key),
      delete: (key) => store.deleteClaim(key),
    },
  });
  return assemble(store, queue, lock);
}
