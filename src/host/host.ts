/**
 * A Durable process: configuration, backends, a worker and a client, wired together. What `npm start`, the
 * benchmarks and the crash test run (and, later, `durable dev` and `durable worker`).
 */
import type { App } from '../engine/app.js';
import type { Clock } from '../backends/clock.js';
import { SystemClock } from '../backends/clock.js';
import { PartitionLock } from '../backends/partition-lock.js';
import type { PartitionOwnership } from '../backends/partitions.js';
import type { Backends } from './backends.js';
import { openBackends, startPartitionLeases } from './backends.js';
import { DurableClient } from '../client/client.js';
import type { DurableConfig } from '../config/config.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import type { WorkerOptions } from '../runtime/worker.js';
import { Worker } from '../runtime/worker.js';
import type { Serves } from './serves.js';
import { resolveServes } from './serves.js';

export interface HostOptions {
  readonly app: App;
  readonly config: DurableConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Worker tuning beyond the configuration. */
  readonly worker?: Partial<Omit<WorkerOptions, 'app' | 'store' | 'queue' | 'lock' | 'clock' | 'logger'>>;
  /** Start the worker (default true); a client-only host leaves it off. */
  readonly runWorker?: boolean;
  /** The work this host's worker takes (default all); checked against the app and the configuration. */
  readonly serves?: Serves;
}

export interface Host {
  readonly backends: Backends;
  readonly client: DurableClient;
  readonly worker: Worker | undefined;
  /** The partitions this worker holds (`DURABLE_LOCK=kubernetes`); undefined otherwise. */
  readonly partitions: PartitionOwnership | undefined;
  /** Drains the worker (running turns and activities finish) and closes the backends. */
  stop(): Promise<void>;
}

/**
 * @example
 * const host = await startHost({ app, config: loadConfig() });
 * const id = await host.client.start('helloSequence', ['Tokyo']);
 * await host.client.waitForCompletion(id);
 * await host.stop();
 */
export async function startHost(options: HostOptions): Promise<Host> {
  const clock = options.clock ?? new SystemClock();
  const { selection, loops } = resolveServes(options.app, options.config, options.serves);
  const backends = await openBackends(options.config, clock, selection);
  const { store, queue, lock } = backends;
  const client = new DurableClient({
    store,
    queue,
    clock,
    orchestrations: Object.keys(options.app.orchestrations),
    entities: Object.keys(options.app.entities),
    events: options.app.events,
  });
  let worker: Worker | undefined;
  let partitions: PartitionOwnership | undefined;
  if (options.runWorker !== false) {
    await reclaimIfAlone(backends, options.config, options.logger);
    worker = new Worker({
      app: options.app,
      store,
      queue,
      lock,
      clock,
      ...(backends.groupCommit ? { groupCommit: backends.groupCommit } : {}),
      activityConcurrency: options.config.activityConcurrency,
      cacheSize: options.config.cacheSize,
      activityTimeoutMs: options.config.activityLeaseMs,
      turnTimeoutMs: options.config.turnTimeoutMs,
      serves: loops,
      ...(options.logger ? { logger: options.logger } : {}),
      ...options.worker,
    });
    if (lock instanceof PartitionLock) partitions = await holdPartitions(options, backends, lock, worker);
    worker.start();
  }
  return {
    backends,
    client,
    worker,
    partitions,
    stop: async () => {
      await worker?.stop();
      await backends.close();
    },
  };
}

/**
 * A worker on partition Leases (`DURABLE_LOCK=kubernetes`) takes only the messages of the partitions it holds:
 * nothing until its first holds, then its queue follows every change. Giving a partition up drains it first: its
 * tubes are no longer watched, its keys are refused, and the batch running now ends; a partition with a turn that
 * failed after its commit (an outbox perhaps unsent) is not released cleanly, and its Lease is left to lapse, so
 * that the next holder re-sends the outboxes.
 */
async function holdPartitions(
  options: HostOptions,
  backends: Backends,
  lock: PartitionLock,
  worker: Worker,
): Promise<PartitionOwnership> {
  const { queue } = backends;
  const settings = options.config.kubernetes;
  if (settings === undefined || queue.watchPartitions === undefined) {
    throw new Error('A partition lock needs DURABLE_LOCK=kubernetes and a queue with partitioned tubes (Beanstalkd).');
  }
  const logger = options.logger ?? silentLogger;
  const watchPartitions = queue.watchPartitions.bind(queue);
  const ref: { leases?: PartitionOwnership } = {};
  // Held and not being given up: the tubes to take messages from.
  const watch = (): Promise<void> => watchPartitions((ref.leases?.held() ?? []).filter((p) => lock.granting(p)));
  await watch();
  const drain = async (partition: number): Promise<void> => {
    lock.stopGranting(partition);
    await watch();
    await worker.batchSettled();
    const unreleased = lock.unreleasedIn(partition);
    if (unreleased > 0) {
      throw new Error(`partition ${partition} has ${unreleased} instance(s) whose last batch failed: left to lapse`);
    }
  };
  const leases = await startPartitionLeases(settings, options.config.beanstalkd?.namespace ?? 'durable', logger, drain);
  ref.leases = leases;
  lock.attach(leases);
  // A watch that fails (Beanstalkd away) is replayed with the connection's setup when it comes back.
  leases.onChange(() => {
    watch().catch((error: unknown) => logger.warn({ event: LOG_EVENTS.partitionsWatchFailed, error: String(error) }));
  });
  await watch();
  return leases;
}

/**
 * With the in-process lock on SQLite (`durable dev`, a lone `durable worker`), this process is the file's only
 * consumer, so every reservation not taken under its boot id belongs to a dead predecessor: end them now, before the
 * worker starts, instead of letting the interrupted activities wait out their lease (60 s by default). Never with
 * the SQLite lock, where other live workers share the file and a reclaim would take their work away; nor on
 * Beanstalkd, which releases a dead worker's jobs itself when its connection closes. Client-only hosts never
 * reclaim: they run beside a worker.
 */
async function reclaimIfAlone(backends: Backends, config: DurableConfig, logger: Logger | undefined): Promise<void> {
  const { bootId, queue } = backends;
  if (bootId === undefined || queue.reclaim === undefined || config.lock !== 'memory' || config.beanstalkd) return;
  try {
    const reclaimed = await queue.reclaim(bootId);
    if (reclaimed > 0) logger?.info({ event: LOG_EVENTS.queueReclaimed, reclaimed, bootId }, 'reclaimed reservations');
  } catch (error) {
    // Not fatal: the predecessor's reservations still come back when their leases end, as without a reclaim.
    logger?.warn({ event: LOG_EVENTS.queueReclaimed, reclaimed: 0, bootId, error }, 'reclaim failed; leases will');
  }
}
