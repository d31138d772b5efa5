/**
 * The catalogue of metrics: every Prometheus metric Durable exports is declared here, and nowhere else.
 *
 * Each worker gets its own registry ({@link createWorkerMetrics}), so two workers in one process (tests) never
 * collide on a metric name. Values come from two sources:
 * - the structured log events, counted by `countingLogger` (`src/host`; works with the runtime as it is);
 * - scrape-time collection: queue depth and the executor cache's size (through the callbacks the host wires in
 *   with `watchQueues` and `watchCache`), and the Node process metrics.
 *
 * Observability depends on nothing of ours: what it reads from the backends comes in through the plain
 * {@link QueueDepthSource} shape, which a `Queue` satisfies as is.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';
import client from 'prom-client';

/** What a turn or a message was for. */
export type WorkKind = 'orchestration' | 'entity' | 'activity';

/** Messages of one queue or tube by state: the queue contract's `QueueDepth`, restated so as not to import it. */
export interface DepthCounts {
  readonly ready: number;
  readonly delayed: number;
  readonly reserved: number;
  readonly dead: number;
}

/** Where the depth gauges read from: a `Queue` (its `depth`, and `tubeDepths` on Beanstalkd). */
export interface QueueDepthSource<Q extends string = string> {
  depth(queue: Q): Promise<DepthCounts>;
  /** Depth tube by tube, where the queue has tubes (Beanstalkd): what an autoscaler of one worker pool reads. */
  tubeDepths?(): Promise<readonly { readonly tube: string; readonly depth: DepthCounts }[]>;
}

export interface WorkerMetrics {
  readonly registry: client.Registry;
  /** Committed turns (orchestration, entity); an activity execution is counted in `messages` only. */
  readonly turns: Counter<'kind'>;
  /** Messages consumed, by the kind of their target. */
  readonly messages: Counter<'kind'>;
  readonly turnDuration: Histogram<'kind'>;
  readonly versionConflicts: Counter<'kind'>;
  /** Messages put back because another worker held their instance's lock. */
  readonly lockBusy: Counter;
  readonly turnFailures: Counter<'reason'>;
  readonly activityFailures: Counter;
  /** Activity executions whose attempt was not the first (a durable retry). */
  readonly activityRetries: Counter;
  readonly deadLettered: Counter<'kind'>;
  readonly staleIncarnation: Counter;
  readonly cachedInstances: Gauge;
  readonly queueDepth: Gauge<'queue' | 'state'>;
  /** Per Beanstalkd tube (empty for the embedded queues). */
  readonly tubeDepth: Gauge<'tube' | 'state'>;
  /** From now on, scrapes read the depth of `queues` from `source` (until then the gauge is empty). */
  watchQueues<Q extends string>(source: QueueDepthSource<Q>, queues: readonly Q[]): void;
  /** Reads the executor cache's size on each scrape. */
  watchCache(size: () => number): void;
  /** Partitions held (`DURABLE_LOCK=kubernetes`), read on each scrape. */
  readonly partitionsHeld: Gauge;
  watchPartitions(count: () => number): void;
}

export interface WorkerMetricsOptions {
  /** Also export the Node process metrics (CPU, memory, event loop lag, GC). Default true. */
  readonly processMetrics?: boolean;
  /** Labels added to every metric (e.g. `{ worker: 'pod-1' }`). */
  readonly defaultLabels?: Record<string, string>;
}

/**
 * Declares every metric in a fresh registry.
 * @example
 * const metrics = createWorkerMetrics();
 * metrics.watchQueues(host.backends.queue, ['orchestrations', 'activities']);
 * const text = await metrics.registry.metrics(); // the /metrics body
 */
export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = new client.Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics !== false) client.collectDefaultMetrics({ register: registry, prefix: 'durable_' });
  const registers = [registry];
  // Bound to its queue names when watched, so the gauges need not know the source's queue-name type.
  let watched:
    | {
        readonly queues: readonly string[];
        readonly depths: () => Promise<PromiseSettledResult<DepthCounts>[]>;
        readonly source: Pick<QueueDepthSource, 'tubeDepths'>;
      }
    | undefined;
  let cacheSize: (() => number) | undefined;
  let partitionCount: (() => number) | undefined;

  const queueDepth = new client.Gauge({
    name: 'durable_queue_depth',
    help: 'Messages in a queue, by state (ready, delayed, reserved, dead), read on each scrape.',
    labelNames: ['queue', 'state'] as const,
    registers,
    // A failing backend must not fail the scrape: the gauge keeps its last values and /readyz reports the failure.
    async collect() {
      if (!watched) return;
      const { queues } = watched;
      const depths = await watched.depths();
      depths.forEach((result, i) => {
        if (result.status === 'fulfilled') setStates(this, { queue: queues[i] }, result.value);
      });
    },
  });

  const tubeDepth = new client.Gauge({
    name: 'durable_tube_depth',
    help: 'Jobs in a Beanstalkd tube this worker serves, by state (ready, delayed, reserved, dead), read on each scrape.',
    labelNames: ['tube', 'state'] as const,
    registers,
    async collect() {
      const tubes = await watched?.source.tubeDepths?.().catch(() => undefined);
      for (const { tube, depth } of tubes ?? []) setStates(this, { tube }, depth);
    },
  });

  return {
    registry,
    tubeDepth,
    turns: new client.Counter({
      name: 'durable_turns_total',
      help: 'Committed turns, by kind (orchestration, entity).',
      labelNames: ['kind'] as const,
      registers,
    }),
    messages: new client.Counter({
      name: 'durable_messages_total',
      help: 'Messages processed, by the kind of their target (orchestration, entity, activity).',
      labelNames: ['kind'] as const,
      registers,
    }),
    turnDuration: new client.Histogram({
      name: 'durable_turn_duration_seconds',
      help: 'Time from taking the lock to settling the messages of one turn, by kind.',
      labelNames: ['kind'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    versionConflicts: new client.Counter({
      name: 'durable_version_conflicts_total',
      help: 'Commits refused because another writer committed the instance first, by kind.',
      labelNames: ['kind'] as const,
      registers,
    }),
    lockBusy: new client.Counter({
      name: 'durable_lock_busy_messages_total',
      help: "Messages released for later because their instance's lock was held by another worker.",
      registers,
    }),
    turnFailures: new client.Counter({
      name: 'durable_turn_failures_total',
      help: 'Turns that failed before committing (their messages come back), by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    activityFailures: new client.Counter({
      name: 'durable_activity_failures_total',
      help: 'Activity executions that threw (the orchestration decides whether to retry).',
      registers,
    }),
    activityRetries: new client.Counter({
      name: 'durable_activity_retries_total',
      help: 'Activity executions that were a retry (attempt > 1).',
      registers,
    }),
    staleIncarnation: new client.Counter({
      name: 'durable_stale_incarnation_messages_total',
      help: 'Messages dropped because they belong to another creation of their instance id (purged and created again).',
      registers,
    }),
    deadLettered: new client.Counter({
      name: 'durable_dead_lettered_total',
      help: 'Messages parked as poison after too many deliveries, by kind.',
      labelNames: ['kind'] as const,
      registers,
    }),
    cachedInstances: new client.Gauge({
      name: 'durable_cached_instances',
      help: 'Replayed instances kept in the executor cache, read on each scrape.',
      registers,
      collect() {
        if (cacheSize) this.set(cacheSize());
      },
    }),
    partitionsHeld: new client.Gauge({
      name: 'durable_partitions_held',
      help: 'Partitions whose Leases this worker holds (DURABLE_LOCK=kubernetes), read on each scrape.',
      registers,
      collect() {
        if (partitionCount) this.set(partitionCount());
      },
    }),
    queueDepth,
    watchPartitions(count) {
      partitionCount = count;
    },
    watchQueues(source, queues) {
      const names = [...queues];
      watched = { queues: names, depths: () => Promise.allSettled(names.map((q) => source.depth(q))), source };
    },
    watchCache(size) {
      cacheSize = size;
    },
  };
}

/** One gauge sample per state of a depth (ready, delayed, reserved, dead), under `labels`. */
function setStates<L extends string>(
  gauge: Gauge<L | 'state'>,
  labels: Partial<Record<L, string>>,
  depth: DepthCounts,
): void {
  for (const [state, value] of Object.entries(depth))
    gauge.set({ ...labels, state } as Partial<Record<L | 'state', string>>, value as number);
}
