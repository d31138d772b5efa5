/**
 * Builds the backends named by the configuration: composition-root code, so it lives in the host, the one layer
 * that may know the configuration and every adapter. Drivers are imported lazily, so a process never loads a
 * driver it does not use.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../backends/clock.js';
import type { GroupCommit } from '../backends/group-commit.js';
import type { Lock } from '../backends/lock.js';
import type { Queue, WorkSelection } from '../backends/queue.js';
import type { Store } from '../backends/store.js';
import type { DurableConfig, KubernetesLockSettings, RethinkdbSettings } from '../config/config.js';
import type { PartitionOwnership } from '../backends/partitions.js';
import type { Logger } from '../observability/logger.js';

export interface Backends {
  readonly store: Store;
  readonly queue: Queue;
  readonly lock: Lock;
  /** Present when the store and the queue share one transactional database (SQLite). */
  readonly groupCommit?: GroupCommit;
  /**
   * This process's boot id (random per start), which the queue writes on every reservation it takes, when the queue
   * can `reclaim` (SQLite): a restarted process takes back its dead predecessor's reservations by it.
   */
  readonly bootId?: string;
  /** Closes all three. */
  close(): Promise<void>;
}

/**
 * `serves` is the work this process's queue takes (a worker serving part of the work): Beanstalkd maps it to the
 * tubes it reserves from; the embedded queues deliver everything and ignore it.
 * @example
 * const backends = await openBackends(loadConfig(), new SystemClock());
 */
export async function openBackends(config: DurableConfig, clock: Clock, serves?: WorkSelection): Promise<Backends> {
  if (config.beanstalkd) return withBeanstalkdQueue(config, clock, serves);
  if (config.rethinkdb) return withRethinkdbStore(config, config.rethinkdb, clock);
  if (config.backend === 'memory') {
    const { MemoryStore } = await import('../backends/memory/memory-store.js');
    const { MemoryQueue } = await import('../backends/memory/memory-queue.js');
    const { MemoryLock } = await import('../backends/memory/memory-lock.js');
    return assemble(new MemoryStore(), new MemoryQueue({ clock }), new MemoryLock({ clock }));
  }
  const { SqliteDatabase } = await import('../backends/sqlite/sqlite-database.js');
  const { SqliteStore } = await import('../backends/sqlite/sqlite-store.js');
  const { SqliteQueue } = await import('../backends/sqlite/sqlite-queue.js');
  mkdirSync(dirname(config.sqlite.path), { recursive: true });
  const database = SqliteDatabase.open({ path: config.sqlite.path, durability: config.sqlite.durability });
  try {
    const store = new SqliteStore({ database });
    const bootId = randomUUID();
    const queue = new SqliteQueue({ database, clock, consumer: bootId });
    let lock: Lock;
    if (config.lock === 'sqlite') {
      // (`rethinkdb` never reaches here: withRethinkdbStore asks for the memory lock and replaces it.)
      const { SqliteLock } = await import('../backends/sqlite/sqlite-lock.js');
      lock = new SqliteLock({ database, clock });
    } else {
      const { MemoryLock } = await import('../backends/memory/memory-lock.js');
      lock = new MemoryLock({ clock });
    }
    const { SqliteGroupCommit } = await import('../backends/sqlite/sqlite-group-commit.js');
    return { ...assemble(store, queue, lock, new SqliteGroupCommit(database, store, queue)), bootId };
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
  serves: WorkSelection | undefined,
): Promise<Backends> {
  const local = await openBackends({ ...config, beanstalkd: undefined }, clock);
  await local.queue.close();
  const { BeanstalkdQueue } = await import('../backends/beanstalkd/beanstalkd-queue.js');
  const { store } = local;
  let lock = local.lock;
  if (config.kubernetes) {
    // The instance lock is partition ownership; the Leases themselves start with a worker (startPartitionLeases).
    const { PartitionLock } = await import('../backends/partition-lock.js');
    await local.lock.close();
    lock = new PartitionLock(
      config.kubernetes.partitions,
      `kubernetes:${config.kubernetes.namespace}/${config.beanstalkd?.namespace}`,
    );
  }
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

/**
 * The store (and, with `DURABLE_LOCK=rethinkdb`, the lock) on RethinkDB; the queue as configured. The RethinkDB
 * adapters, and with them the driver, are imported only here. No group commit: the queue is not in the store's
 * database.
 */
async function withRethinkdbStore(config: DurableConfig, settings: RethinkdbSettings, clock: Clock): Promise<Backends> {
  const onRethinkdb = config.lock === 'rethinkdb';
  const local = await openBackends(
    { ...config, rethinkdb: undefined, ...(onRethinkdb ? { lock: 'memory' } : {}) },
    clock,
  );
  await local.store.close();
  try {
    const options = {
      host: settings.host,
      port: settings.port,
      db: settings.db,
      ...(settings.user !== undefined ? { user: settings.user } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(settings.caPath !== undefined ? { tlsCa: await readFile(settings.caPath, 'utf8') } : {}),
      replicas: settings.replicas,
      shards: settings.shards,
      timeoutMs: settings.timeoutMs,
    };
    const { RethinkdbStore } = await import('../backends/rethinkdb/rethinkdb-store.js');
    const store = await RethinkdbStore.open(options);
    let lock = local.lock;
    if (onRethinkdb) {
      const { RethinkdbLock } = await import('../backends/rethinkdb/rethinkdb-lock.js');
      lock = await RethinkdbLock.open(options).catch(async (error: unknown) => {
        await store.close();
        throw error;
      });
      await local.lock.close();
    }
    return { ...assemble(store, local.queue, lock), ...(local.bootId !== undefined ? { bootId: local.bootId } : {}) };
  } catch (error) {
    await local.queue.close();
    await local.lock.close();
    throw error;
  }
}

/**
 * Starts holding partition Leases for a worker, with the Kubernetes client (in-cluster service account, or
 * `KUBECONFIG` / `~/.kube/config` outside a cluster) imported only here.
 * @example
 * const leases = await startPartitionLeases(config.kubernetes, 'shop', logger, (p) => drain(p));
 */
export async function startPartitionLeases(
  settings: KubernetesLockSettings,
  app: string,
  logger: Logger,
  drain: (partition: number) => Promise<void>,
): Promise<PartitionOwnership> {
  const { KubeConfig, CoordinationV1Api } = await import('@kubernetes/client-node');
  const { PartitionLeases } = await import('../backends/kubernetes/partition-leases.js');
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromDefault();
  return PartitionLeases.start({
    api: kubeconfig.makeApiClient(CoordinationV1Api),
    namespace: settings.namespace,
    app,
    partitions: settings.partitions,
    identity: `${settings.podName}/${randomUUID().slice(0, 8)}`,
    leaseDurationMs: settings.leaseDurationMs,
    renewIntervalMs: settings.renewIntervalMs,
    ...(settings.pool !== undefined ? { pool: settings.pool } : {}),
    logger,
    drain,
  });
}
