/**
 * The worker: two loops over the queue, one for orchestration turns and one for activities.
 *
 * - The orchestration loop receives a batch, groups it by instance and runs one turn per instance (batching
 *   many messages of a fan-in into one commit), several instances concurrently.
 * - The activity loop keeps up to `activityConcurrency` activities running at once.
 * `stop()` drains: no new messages are taken, running turns and activities finish, then it resolves.
 */
import { randomUUID } from 'node:crypto';
import type { App } from '../engine/app.js';
import type { OrchestrationLogRecord } from '../engine/executor.js';
import type { Clock } from '../backends/clock.js';
import type { GroupCommit } from '../backends/group-commit.js';
import type { Lock } from '../backends/lock.js';
import { acquireAll, releaseAll } from '../backends/lock.js';
import type { Delivery, Queue, Release } from '../backends/queue.js';
import type { InstanceRecord, Store } from '../backends/store.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import { isEntityId } from '../engine/entity.js';
import type { ActivityDeps } from './activity-runner.js';
import { IsolationGate } from './isolation-gate.js';
import { LeaseKeeper } from './lease-keeper.js';
import { runActivity } from './activity-runner.js';
import { ReplyBatcher } from './reply-batcher.js';
import type { EntityTurnDeps } from './entity-turn.js';
import { planEntityTurn } from './entity-turn.js';
import { ExecutorCache } from './executor-cache.js';
import { DeterminismGuard } from './determinism-guard.js';
import type { TurnDeps } from './orchestration-turn.js';
import { planOrchestrationTurn } from './orchestration-turn.js';
import { outboxMayBeUnsent, SENT_WITH_COMMIT } from './outbox.js';
import { sweepPendingStarts } from './pending-sweeper.js';
import type { TurnPlan } from './turn-plan.js';
import { commitPlans } from './turn-plan.js';

/** The longest back-off after consecutive failed batches (a backend that is down). */
const MAX_BATCH_BACKOFF_MS = 30_000;

export interface WorkerOptions {
  readonly app: App;
  readonly store: Store;
  readonly queue: Queue;
  readonly lock: Lock;
  readonly clock: Clock;
  /** One atomic write per batch, when the backends offer it (SQLite). */
  readonly groupCommit?: GroupCommit;
  readonly logger?: Logger;
  /** Unique per process; names the lock owner. Default: a random id. */
  readonly workerId?: string;
  /** Activities running at once (default 16). */
  readonly activityConcurrency?: number;
  /** Instances whose turns run at once (default 16). */
  readonly orchestrationConcurrency?: number;
  /** Orchestration messages taken per receive (default 100). */
  readonly batchSize?: number;
  /** Replayed instances kept in memory (default 10,000; `DURABLE_CACHE_SIZE`). */
  readonly cacheSize?: number;
  /**
   * An activity's reservation (its lease), renewed every third of it while the activity runs: how soon the activity
   * of a dead worker runs again (default 5 minutes; `durable worker` uses `DURABLE_ACTIVITY_LEASE_MS`).
   */
  readonly activityTimeoutMs?: number;
  /** Reservation of an orchestration batch, and the instance lock's TTL (default 10 s, like Temporal's workflow task timeout). */
  readonly turnTimeoutMs?: number;
  /** Which loops run (default both): a pool can serve orchestrations and entities only, or activities only. */
  readonly serves?: { readonly orchestrations?: boolean; readonly activities?: boolean };
  /** Deliveries before a message is dead-lettered (default 10). */
  readonly maxDeliveries?: number;
  /** How long one receive waits for messages before checking for shutdown (default 1 s). */
  readonly pollMs?: number;
  /**
   * How long a redelivered message waits for the work already running, and then runs alone before the worker takes
   * new work again (default 2 s, real time; see isolation-gate.ts).
   */
  readonly isolationMs?: number;
  /**
   * Log a warning, once per orchestration name, when orchestration code reads the wall clock (`Date.now()`,
   * `new Date()`) or `Math.random()` during a turn (default false; `durable dev` turns it on). A guard, not a
   * sandbox: the code still gets the real values; see determinism-guard.ts.
   */
  readonly warnNondeterminism?: boolean;
}

/**
 * Runs orchestrations and activities from the queue until stopped.
 * @example
 * const worker = new Worker({ app, store, queue, lock, clock: new SystemClock() });
 * worker.start();
 * process.on('SIGTERM', () => void worker.stop());
 */
export class Worker {
  readonly workerId: string;
  private readonly logger: Logger;
  private readonly turnDeps: TurnDeps;
  private readonly entityDeps: EntityTurnDeps;
  private readonly abort = new AbortController();
  /** Redelivered messages run alone in this process, so that a poison message dies alone. */
  private readonly isolation = new IsolationGate();
  private loops: Promise<void>[] = [];
  private busyTurns = 0;
  /** Resolved when the batch running now ends (see `batchSettled`). */
  private batchWaiters: Array<() => void> = [];
  private busyActivities = 0;
  private slotFreed: (() => void) | undefined;
  /** Consecutive failed batches: the back-off of the next failure grows with it. */
  private batchFailures = 0;

  constructor(private readonly options: WorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
    this.logger = options.logger ?? silentLogger;
    const logger = this.logger;
    const guard = options.warnNondeterminism ? nondeterminismGuard(logger) : undefined;
    const logSink = (r: OrchestrationLogRecord): void =>
      logger[r.level](
        { event: LOG_EVENTS.orchestrationLog, instanceId: r.instanceId, orchestration: r.name, ...r.fields },
        r.message,
      );
    this.turnDeps = {
      app: options.app,
      store: options.store,
      queue: options.queue,
      clock: options.clock,
      logger,
      cache: new ExecutorCache(options.cacheSize ?? 10_000),
      executorOptions: {
        // The logger reads the clock for its timestamps: that is not the orchestration's doing.
        logSink: guard ? (r) => guard.exempt(() => logSink(r)) : logSink,
      },
      maxDeliveries: options.maxDeliveries ?? 10,
      deferDelayMs: 250,
      // With group commit the outbox goes out in the commit's transaction: nothing to recover (outbox.ts).
      lockEpoch: options.groupCommit ? SENT_WITH_COMMIT : options.lock.epoch,
      backoffs: new Map(),
      ...(guard ? { guard } : {}),
    };
    this.entityDeps = {
      app: options.app,
      store: options.store,
      queue: options.queue,
      clock: options.clock,
      logger,
      options: {},
      turnDeps: this.turnDeps,
    };
  }

  /** True when no turn and no activity is running (used by the test environment to skip time). */
  get idle(): boolean {
    return this.busyTurns === 0 && this.busyActivities === 0;
  }

  /**
   * Resolves once the orchestration batch running now (if any) has ended: everything it committed is sent and its
   * messages settled. Giving up a partition waits for it, after its tubes are no longer watched.
   */
  batchSettled(): Promise<void> {
    if (this.busyTurns === 0) return Promise.resolve();
    return new Promise((resolve) => this.batchWaiters.push(resolve));
  }

  /** Replayed instances held in memory (a gauge for metrics). */
  get cachedInstances(): number {
    return this.turnDeps.cache.size;
  }

  /** What is running now (a drain that times out reports it). */
  get running(): { readonly batches: number; readonly activities: number } {
    return { batches: this.busyTurns, activities: this.busyActivities };
  }

  start(): void {
    if (this.loops.length > 0) return;
    this.logger.info({ event: LOG_EVENTS.workerStarted, workerId: this.workerId });
    const serves = this.options.serves ?? {};
    this.loops = [
      ...(serves.orchestrations !== false ? [this.orchestrationLoop(), this.sweepLoop()] : []),
      ...(serves.activities !== false ? [this.activityLoop()] : []),
    ];
  }

  /** Stops taking messages, lets running work finish, and resolves when both loops have ended. */
  async stop(): Promise<void> {
    this.logger.info({ event: LOG_EVENTS.workerStopping, workerId: this.workerId });
    this.abort.abort();
    this.slotFreed?.();
    await Promise.all(this.loops);
    this.logger.info({ event: LOG_EVENTS.workerStopped, workerId: this.workerId });
  }

  private get isolationMs(): number {
    return this.options.isolationMs ?? 2000;
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  /** Re-sends the starts that clients created records for but died before sending (pending-sweeper.ts). */
  private sweepLoop(): Promise<void> {
    const { store, queue, lock, clock } = this.options;
    // Ten turn timeouts (100 s by default): far longer than a live start takes, or than a poison start takes to be
    // dead-lettered.
    const ageMs = 10 * (this.options.turnTimeoutMs ?? 10_000);
    return sweepPendingStarts(
      { store, queue, lock, clock, logger: this.logger, owner: this.workerId, ageMs },
      this.abort.signal,
    );
  }

  private async orchestrationLoop(): Promise<void> {
    const { queue } = this.options;
    const turnTimeoutMs = this.options.turnTimeoutMs ?? 10_000;
    // Keeps the reservations of messages that wait for an isolated run (see isolation-gate.ts).
    const waiting = new LeaseKeeper({ queue, clock: this.turnDeps.clock, leaseMs: turnTimeoutMs, logger: this.logger });
    while (!this.stopping) {
      await this.isolation.opened();
      const deliveries = await this.receive(() =>
        queue.receive('orchestrations', this.options.batchSize ?? 100, {
          visibilityTimeoutMs: turnTimeoutMs,
          waitMs: this.options.pollMs ?? 1000,
          signal: this.abort.signal,
        }),
      );
      if (deliveries.length === 0) continue;
      this.busyTurns++;
      try {
        const { ordinary, isolated, giveBack } = this.isolation.sort(deliveries, this.turnDeps.maxDeliveries);
        const unhold = [...(this.isolation.closed ? ordinary : []), ...(isolated ? [isolated] : [])].map((d) =>
          waiting.hold(d),
        );
        try {
          // Ordinary messages first, batched as usual: a redelivered one is likelier to be the poison, and if it ran
          // first they would die with it.
          await this.isolation.ordinary(async () => {
            await this.giveBackRedelivered(giveBack);
            if (ordinary.length > 0) await this.runTurns(groupByInstance(ordinary), turnTimeoutMs);
          });
        } finally {
          if (isolated) {
            await this.isolation.isolated(async () => {
              for (const release of unhold) release();
              await this.runTurns(groupByInstance([isolated]), turnTimeoutMs);
            }, this.isolationMs);
          }
          for (const release of unhold) release();
        }
      } finally {
        this.busyTurns--;
        for (const settled of this.batchWaiters.splice(0)) settled();
      }
    }
    waiting.close();
  }

  /** A batch that never throws: runBatch handles backend failures itself; this is the last line that keeps the loop alive. */
  private async runTurns(groups: Map<string, Delivery[]>, turnTimeoutMs: number): Promise<void> {
    try {
      await this.runBatch(groups, turnTimeoutMs);
    } catch (error) {
      this.logger.error({ event: LOG_EVENTS.batchFailed, error: String(error) });
    }
  }

  /**
   * Redelivered messages that cannot run alone now (another one is claimed) go back to the queue at once, for
   * another worker or for later: held here, they would die with the claimed one if it is the poison. A release
   * that fails only means they come back when their reservation expires.
   */
  private async giveBackRedelivered(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.options.queue
      .settle({ release: deliveries.map((delivery) => ({ delivery, delayMs: 0 })) })
      .catch(() => undefined);
  }

  /**
   * One batch: lock every instance, load their records in one read, plan every turn, then commit them together
   * (group commit), send every outbox in one write and settle every message in one write.
   *
   * Any backend call may fail (a timeout, a 5xx, a failover). Then the batch's messages go back with back-off and
   * the loop goes on; nothing is lost, because a message is acknowledged only after the commit that consumed it,
   * and a committed turn's outbox is sent again by the next owner. To make sure of that, a failed batch does not
   * release its instances' locks: the next acquire then reports `'taken-over'` (see outbox.ts).
   */
  private async runBatch(groups: Map<string, Delivery[]>, ttlMs: number): Promise<void> {
    const { lock, queue, store } = this.options;
    const locked: Array<[string, Delivery[], boolean]> = [];
    const busy: Release[] = [];
    const failed = new Map<string, Delivery[]>();
    try {
      const records = new Map<string, InstanceRecord>();
      // The batch's locks in one call: on a lock whose writes are replicated disk writes, a write per instance per
      // turn is what bounds a cluster.
      const entries = [...groups];
      const acquired = await acquireAll(
        lock,
        entries.map(([id]) => lockKey(id)),
        this.workerId,
        ttlMs,
      );
      entries.forEach(([id, deliveries], i) => {
        const acquisition = acquired[i] ?? false;
        if (acquisition === false) busy.push(...deliveries.map((delivery) => ({ delivery, delayMs: 50 })));
        else locked.push([id, deliveries, acquisition === 'taken-over']);
      });
      if (busy.length > 0) {
        this.logger.debug({ event: LOG_EVENTS.lockBusy, messages: busy.length });
        await queue.settle({ release: busy });
      }
      for (const [id, record] of await store.getMany(locked.map(([id]) => id))) records.set(id, record);
      const plans: TurnPlan[] = [];
      await forEachLimited(locked, this.options.orchestrationConcurrency ?? 16, async ([id, deliveries, takenOver]) => {
        try {
          const record = records.get(id);
          const unsent = outboxMayBeUnsent(record, takenOver ? 'taken-over' : 'clean', lock.epoch);
          const plan = isEntityId(id)
            ? await planEntityTurn(this.entityDeps, id, record, deliveries, unsent)
            : await planOrchestrationTurn(this.turnDeps, id, record, deliveries, unsent);
          if (plan) plans.push(plan);
        } catch (error) {
          // This instance's turn could not be planned; the batch's other turns go on.
          failed.set(id, deliveries);
          this.logger.error({ event: LOG_EVENTS.turnFailed, instanceId: id, error: String(error) });
        }
      });
      await commitPlans(store, queue, plans, this.options.groupCommit);
      this.batchFailures = failed.size > 0 ? this.batchFailures + 1 : 0;
    } catch (error) {
      this.batchFailures++;
      this.logger.error({ event: LOG_EVENTS.batchFailed, instances: groups.size, error: String(error) });
      await this.giveBack(new Map(locked.map(([id, deliveries]) => [id, deliveries])), groups);
      return;
    }
    const released = locked.filter(([id]) => !failed.has(id));
    await releaseAll(
      lock,
      released.map(([id]) => lockKey(id)),
      this.workerId,
    ).catch(() => undefined);
    if (failed.size > 0) await this.giveBack(failed, failed);
  }

  /**
   * Turns failed: a backend call failed (a timeout, a 5xx, a failover) or a turn could not be planned. The
   * messages of `groups` go back with a back-off that grows with consecutive failures (a release that fails too
   * only means they come back when their reservation expires). The `locked` instances' cached executors are
   * forgotten (their commits may or may not have happened), and their locks are left unreleased, so that the
   * next acquire says 'taken-over' and the outbox is sent again; they lapse with the back-off.
   */
  private async giveBack(locked: Map<string, Delivery[]>, groups: Map<string, Delivery[]>): Promise<void> {
    const delayMs = Math.min(MAX_BATCH_BACKOFF_MS, 100 * 2 ** Math.min(Math.max(this.batchFailures, 1) - 1, 10));
    for (const id of locked.keys()) this.turnDeps.cache.delete(id);
    const release = [...groups.values()].flat().map((delivery) => ({ delivery, delayMs }));
    await this.options.queue.settle({ release }).catch(() => undefined);
    await Promise.all(
      [...locked.keys()].map((id) =>
        this.options.lock.acquire(lockKey(id), this.workerId, delayMs).catch(() => undefined),
      ),
    );
  }

  private async activityLoop(): Promise<void> {
    const { queue } = this.options;
    const limit = this.options.activityConcurrency ?? 16;
    const running = new Set<Promise<void>>();
    const batcher = new ReplyBatcher(queue, this.options.groupCommit);
    const leases = new LeaseKeeper({
      queue,
      clock: this.turnDeps.clock,
      leaseMs: this.options.activityTimeoutMs ?? 300_000,
      logger: this.logger,
    });
    const activityDeps: ActivityDeps = {
      app: this.options.app,
      queue,
      leases,
      logger: this.logger,
      maxDeliveries: this.turnDeps.maxDeliveries,
      // A result is the fruit of a side effect: a failed send is retried (receivers drop a second copy) rather
      // than left to the lease's expiry, which would run the activity again.
      complete: (reply, delivery) =>
        retrying(
          () => batcher.complete(reply, delivery),
          (error, retryInMs) =>
            this.logger.warn({ event: LOG_EVENTS.batchFailed, messageId: reply.id, retryInMs, error: String(error) }),
        ),
    };
    const run = async (delivery: Delivery): Promise<void> => {
      try {
        await runActivity(activityDeps, delivery);
      } catch (error) {
        this.logger.error({ event: LOG_EVENTS.activityFailed, messageId: delivery.message.id, error: String(error) });
      }
    };
    while (!this.stopping) {
      if (running.size >= limit) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      await this.isolation.opened();
      const deliveries = await this.receive(() =>
        queue.receive('activities', limit - running.size, {
          visibilityTimeoutMs: this.options.activityTimeoutMs ?? 300_000,
          waitMs: this.options.pollMs ?? 1000,
          signal: this.abort.signal,
        }),
      );
      const { ordinary, isolated, giveBack } = this.isolation.sort(deliveries, this.turnDeps.maxDeliveries);
      if (giveBack.length > 0) await this.isolation.ordinary(() => this.giveBackRedelivered(giveBack));
      for (const delivery of ordinary) {
        this.busyActivities++;
        // Held from the start: it may wait for an isolated run that began after this receive.
        const unhold = leases.hold(delivery);
        const started: Promise<void> = this.isolation
          .ordinary(() => (unhold(), run(delivery)))
          .finally(() => {
            running.delete(started);
            this.busyActivities--;
            this.slotFreed?.();
          });
        running.add(started);
      }
      if (isolated) {
        // Alone, after this receive's ordinary activities and everything already running; the loop takes nothing
        // new while it is claimed (`opened` above).
        this.busyActivities++;
        const unhold = leases.hold(isolated);
        const started: Promise<void> = this.isolation
          .isolated(() => (unhold(), run(isolated)), this.isolationMs)
          .finally(() => {
            unhold();
            running.delete(started);
            this.busyActivities--;
            this.slotFreed?.();
          });
        running.add(started);
      }
    }
    await Promise.all(running);
    leases.close();
  }

  /** A receive that survives backend hiccups: log, wait a little, try again. */
  private async receive(fn: () => Promise<Delivery[]>): Promise<Delivery[]> {
    try {
      return await fn();
    } catch (error) {
      if (!this.stopping) {
        this.logger.error({ event: LOG_EVENTS.turnFailed, error: `receive failed: ${String(error)}` });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return [];
    }
  }
}

/** Runs `fn`, retrying a failure up to four times with a growing pause (0.1 s to 0.8 s). */
async function retrying<T>(fn: () => Promise<T>, onRetry: (error: unknown, retryInMs: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 5) throw error;
      const retryInMs = 100 * 2 ** (attempt - 1);
      onRetry(error, retryInMs);
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
    }
  }
}

/** The lock key of an instance: entities and orchestrations have separate key spaces. */
function lockKey(instanceId: string): string {
  return `${isEntityId(instanceId) ? 'entity' : 'orchestration'}/${instanceId}`;
}

function groupByInstance(deliveries: Delivery[]): Map<string, Delivery[]> {
  const groups = new Map<string, Delivery[]>();
  for (const d of deliveries) {
    const group = groups.get(d.message.instanceId);
    if (group) group.push(d);
    else groups.set(d.message.instanceId, [d]);
  }
  return groups;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** The `warnNondeterminism` guard, writing its warnings to the worker's log. */
function nondeterminismGuard(logger: Logger): DeterminismGuard {
  return new DeterminismGuard(({ orchestration, instanceId, call }) =>
    logger.warn(
      { event: LOG_EVENTS.nondeterministicCall, orchestration, instanceId, call },
      `Orchestration '${orchestration}' called ${call} during a turn: the value differs when it replays. ` +
        `Use ${call === 'Math.random()' ? 'ctx.random()' : 'ctx.now()'} instead (warned once per orchestration; lint ` +
        'with durable/eslint to find the others).',
    ),
  );
}
