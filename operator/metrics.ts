/**
 * The operator's Prometheus metrics, on its ops server's `/metrics`.
 */
import client from 'prom-client';

export interface OperatorMetrics {
  readonly registry: client.Registry;
  /** Reconciles by pool kind and how they ended: `done`, `requeued` (waiting on something) or `error`. */
  readonly reconciles: client.Counter<'kind' | 'result'>;
  readonly reconcileDuration: client.Histogram<'kind'>;
  /** Failed reconciles (each is retried with back-off). */
  readonly reconcileErrors: client.Counter<'kind'>;
  /** Writes to the API server by verb and kind: a quiet cluster keeps these flat. */
  readonly writes: client.Counter<'verb' | 'kind'>;
  /** 1 while this replica leads (and reconciles), else 0. */
  readonly leader: client.Gauge;
}

/**
 * @example
 * const metrics = createOperatorMetrics(() => controller?.queueDepth ?? 0);
 * await metrics.registry.metrics();
 */
export function createOperatorMetrics(queueDepth: () => number): OperatorMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new client.Gauge({
    name: 'durable_operator_queue_depth',
    help: 'Pools waiting to be reconciled',
    registers,
    collect() {
      this.set(queueDepth());
    },
  });
  return {
    registry,
    reconciles: new client.Counter({
      name: 'durable_operator_reconciles_total',
      help: 'Reconciles of Workflow and Entity resources, by result',
      labelNames: ['kind', 'result'],
      registers,
    }),
    reconcileDuration: new client.Histogram({
      name: 'durable_operator_reconcile_duration_seconds',
      help: 'How long one reconcile took',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    reconcileErrors: new client.Counter({
      name: 'durable_operator_reconcile_errors_total',
      help: 'Reconciles that failed and were retried with back-off',
      labelNames: ['kind'],
      registers,
    }),
    writes: new client.Counter({
      name: 'durable_operator_writes_total',
      help: 'Writes to the Kubernetes API, by verb and kind',
      labelNames: ['verb', 'kind'],
      registers,
    }),
    leader: new client.Gauge({ name: 'durable_operator_leader', help: '1 while this replica leads', registers }),
  };
}
