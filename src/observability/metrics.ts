/**
 * The catalogue of metrics: every Prometheus metric Durable exports is declared here, and nowhere else.
 *
 * Each worker gets its own registry ({@link createWorkerMetrics}), so two workers in one process (tests) never
 * collide on a metric name. Values come from three sources:
 * - the structured log events, counted by {@link countingLogger} (works with the runtime as it is);
 * - a {@link WorkerObserver} the runtime calls for what no log line carries (turn latency, messages consumed by
 *   an orchestration turn, the executor cache's size);
 * - scrape-time collection: queue depth (`queue.depth`) and the Node process metrics.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';
import client from 'prom-client';
import type { QueueDepth } from '../backends/queue.js';
import type { QueueName } from '../engine/messages.js';

/** What a turn or a message was for. */
export type WorkKind = 'orchestration' | 'entity' | 'activity';

/** The queues a depth gauge reports; the states are the fields of {@link QueueDepth}. */
export interface QueueDepthSource {
  depth(queue: QueueName): Promise<QueueDepth>;
  /** Depth tube by tube, where the queue has tubes (Beanstalkd): what an autoscaler of one worker pool reads. */
  tubeDepths?(): Promise<readonly { readonly tube: string; readonly depth: QueueDepth }[]>;
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
  readonly cachedInstances: Gauge;
  readonly queueDepth: Gauge<'queue' | 'state'>;
  /** Per Beanstalkd tube (empty for the embedded queues). */
  readonly tubeDepth: Gauge<'tube' | 'state'>;
  /** From now on, scrapes read the depth of `queues` from `source` (until then the gauge is empty). */
  watchQueues(source: QueueDepthSource, queues: readonly QueueName[]): void;
  /** Reads the executor cache's size on each scrape. */
  watchCache(size: () => number): void;
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
  let watched: { source: QueueDepthSource; queues: readonly QueueName[] } | undefined;
  let cacheSize: (() => number) | undefined;

  const queueDepth = new client.Gauge({
    name: 'durable_queue_depth',
    help: 'Messages in a queue, by state (ready, delayed, reserved, dead), read on each scrape.',
    labelNames: ['queue', 'state'] as const,
    registers,
    // A failing backend must not fail the scrape: the gauge keeps its last values and /readyz reports the failure.
    async collect() {
      if (!watched) return;
      const { source, queues } = watched;
      const depths = await Promise.allSettled(queues.map((queue) => source.depth(queue)));
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
    queueDepth,
    watchQueues(source, queues) {
      watched = { source, queues: [...queues] };
    },
    watchCache(size) {
      cacheSize = size;
    },
  };
}

/**
 * The calls the runtime makes for what no log line carries. {@link metricsObserver} implements it on a
 * {@link WorkerMetrics}; the runtime treats it as optional and must never let it throw into a turn.
 */
export interface WorkerObserver {
  /** After a turn's messages are settled: `messages` consumed, `durationMs` from lock to settle. */
  turnSettled(kind: 'orchestration' | 'entity', outcome: { messages: number; durationMs: number }): void;
  /** After each `put`/`delete`/`take` miss of the executor cache. */
  cacheSize(size: number): void;
}

/**
 * Points a {@link WorkerObserver} at the metrics.
 * @example
 * new Worker({ ...backends, app, observer: metricsObserver(metrics) });
 */
export function metricsObserver(metrics: WorkerMetrics): WorkerObserver {
  return {
    turnSettled(kind, { messages, durationMs }) {
      metrics.turnDuration.observe({ kind }, durationMs / 1000);
      // Entity turns already count their messages from the log line; orchestration turns log only their output.
      if (kind === 'orchestration') metrics.messages.inc({ kind }, messages);
    },
    cacheSize(size) {
      metrics.cachedInstances.set(size);
    },
  };
}

/** One gauge sample per state of a depth (ready, delayed, reserved, dead), under `labels`. */
function setStates<L extends string>(
  gauge: Gauge<L | 'state'>,
  labels: Partial<Record<L, string>>,
  depth: QueueDepth,
): void {
  for (const [state, value] of Object.entries(depth))
    gauge.set({ ...labels, state } as Partial<Record<L | 'state', string>>, value as number);
}
