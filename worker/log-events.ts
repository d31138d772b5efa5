/**
 * Log events of the worker process itself (the runtime's are in `src/observability/log-events.ts`). Kept here
 * until they join that catalogue; the names follow the same `area.what_happened` shape.
 */
export const WORKER_LOG_EVENTS = {
  opsListening: 'worker.ops_listening',
  drainStarted: 'worker.drain_started',
  drained: 'worker.drained',
  drainTimeout: 'worker.drain_timeout',
  fatal: 'worker.fatal',
} as const;
