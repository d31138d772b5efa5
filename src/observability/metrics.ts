/**
 * The catalogue of metrics: every Prometheus metric Durable exports is declared here, and nowhere else.
 *
 * Each worker gets its own registry ({@link createWorkerMetrics}), so two workers in one process (tests) never
 * collide on a metric name. Values come from two sources:
 * - the structured log events, counted by `countingLogger` (`src/host`; works with the runtime as it is);
 * - scrape-time collection: queue depth and the executor cache's size (through the callbacks the host wires in
 *   with `watchQueues` and `watchCache`), and the Node process metrics.
 *
 * Queue depth is read with a deadline ({@link WorkerMetricsOptions.depthTimeoutMs}, 500 ms): a backend that is down
 * or hanging must not hold the scrape past Prometheus' timeout (a Beanstalkd outage held it 10 s). Past the
 * deadline or on error, the gauges keep their last values and `durable_queue_depth_stale` says 1, with
 * `durable_queue_depth_age_seconds` saying how old those values are.
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
  /** 1 when the last depth read failed or passed its deadline (the depth gauges then hold older values). */
  readonly queueDepthStale: Gauge;
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
  /** How long a scrape waits for the queue depth before serving the last values as stale (default 500 ms). */
  readonly depthTimeoutMs?: number;
  /** The clock for the depth's age (tests). */
  readonly now?: () => number;
}

/** Default deadline for reading the queue depth on a scrape. */
export const DEFAULT_DEPTH_TIMEOUT_MS = 500;

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
  let watched: { readonly queues: readonly string[]; readonly source: QueueDepthSource } | undefined;
  let cacheSize: (() => number) | undefined;
  let partitionCount: (() => number) | undefined;
  const depthTimeoutMs = options.depthTimeoutMs ?? DEFAULT_DEPTH_TIMEOUT_MS;
  const now = options.now ?? Date.now;

  // The last values read, whole (a read is all queues and tubes or nothing), and when.
  let last:
    | {
        readonly queues: ReadonlyArray<{ readonly queue: string; readonly depth: DepthCounts }>;
        readonly tubes: readonly { readonly tube: string; readonly depth: DepthCounts }[];
      }
    | undefined;
  let lastAt: number | undefined;
  let stale = false;
  // One refresh per scrape, shared by the gauges that report it (their collect() all start at once), while in flight.
  let scrape: Promise<void> | undefined;
  // Reads are numbered: a read that answers after a later one (it missed its scrape) does not overwrite it.
  let started = 0;
  let written = 0;

  const read = async (target: NonNullable<typeof watched>, sequence: number): Promise<void> => {
    const queues = await Promise.all(
      target.queues.map(async (queue) => ({ queue, depth: await target.source.depth(queue) })),
    );
    const tubes = (await target.source.tubeDepths?.()) ?? [];
    if (sequence < written) return;
    written = sequence;
    last = { queues, tubes };
    lastAt = now();
  };
  const refresh = (): Promise<void> => {
    if (scrape) return scrape;
    const target = watched;
    if (!target) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), depthTimeoutMs);
    });
    // A backend that hangs gets one outstanding read per scrape, as before the deadline; its client times it out.
    const fresh = read(target, ++started).then(() => 'fresh' as const);
    scrape = Promise.race([fresh, deadline])
      .catch(() => 'failed' as const)
      .then((outcome) => {
        clearTimeout(timer);
        stale = outcome !== 'fresh';
        scrape = undefined;
      });
    return scrape;
  };

  const queueDepth = new client.Gauge({
    name: 'durable_queue_depth',
    help: 'Messages in a queue, by state (ready, delayed, reserved, dead), read on each scrape (last values when stale).',
    labelNames: ['queue', 'state'] as const,
    registers,
    // A failing backend must not fail the scrape: the gauge keeps its last values and /readyz reports the failure.
    async collect() {
      await refresh();
      for (const { queue, depth } of last?.queues ?? []) setStates(this, { queue }, depth);
    },
  });

  const queueDepthStale = new client.Gauge({
    name: 'durable_queue_depth_stale',
    help: '1 when the queue depth could not be read within the scrape deadline (the depth gauges hold the last values read), else 0.',
    registers,
    async collect() {
      await refresh();
      if (watched) this.set(stale ? 1 : 0);
    },
  });

  new client.Gauge({
    name: 'durable_queue_depth_age_seconds',
    help: 'Age of the queue depth values served, in seconds (0 when read by this scrape).',
    registers,
    async collect() {
      await refresh();
      if (lastAt !== undefined) this.set(stale ? (now() - lastAt) / 1000 : 0);
    },
  });

  const tubeDepth = new client.Gauge({
    name: 'durable_tube_depth',
    help: 'Jobs in a Beanstalkd tube this worker serves, by state (ready, delayed, reserved, dead), read on each scrape.',
    labelNames: ['tube', 'state'] as const,
    registers,
    async collect() {
      await refresh();
      for (const { tube, depth } of last?.tubes ?? []) setStates(this, { tube }, depth);
    },
  });

  return {
    registry,
    tubeDepth,
    queueDepthStale,
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
      watched = { queues: [...queues], source: source };
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
