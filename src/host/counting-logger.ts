/**
 * Metrics from the log: a {@link Logger} that counts the catalogued events it sees, then passes every line on.
 * The runtime already logs each commit, conflict, busy lock and activity outcome with a stable `event`, so the
 * counters need no hook in the runtime. Counting happens before the level filter of the logger underneath:
 * a `debug` line that is not written is still counted.
 *
 * It lives in the host, not in observability, because telling an entity's line from an orchestration's needs the
 * engine's id rules, and observability depends on nothing of ours.
 */
import { isEntityId } from '../engine/entity.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';
import type { WorkerMetrics } from '../observability/metrics.js';

/**
 * Wraps `inner` so that every catalogued event it logs also moves the metrics.
 * @example
 * const metrics = createWorkerMetrics();
 * const logger = countingLogger(createLogger({ level: 'info' }), metrics);
 * await startHost({ app, config, logger });
 */
export function countingLogger(inner: Logger, metrics: WorkerMetrics): Logger {
  const count = (fields: Record<string, unknown>): void => {
    try {
      countEvent(fields, metrics);
    } catch {
      // A metric must never break the line it counts, nor the turn that logs it.
    }
  };
  return {
    debug: (fields, message) => (count(fields), inner.debug(fields, message)),
    info: (fields, message) => (count(fields), inner.info(fields, message)),
    warn: (fields, message) => (count(fields), inner.warn(fields, message)),
    error: (fields, message) => (count(fields), inner.error(fields, message)),
  };
}

function countEvent(fields: Record<string, unknown>, m: WorkerMetrics): void {
  const instanceKind = (): 'entity' | 'orchestration' =>
    typeof fields.instanceId === 'string' && isEntityId(fields.instanceId) ? 'entity' : 'orchestration';
  const number = (value: unknown, fallback: number): number => (typeof value === 'number' ? value : fallback);
  switch (fields.event) {
    case LOG_EVENTS.turnCommitted:
      m.turns.inc({ kind: 'orchestration' });
      // `consumed` and `durationMs` are read when the runtime logs them (an orchestration's `messages` is its
      // outbox, not what it consumed).
      if (typeof fields.consumed === 'number') m.messages.inc({ kind: 'orchestration' }, fields.consumed);
      if (typeof fields.durationMs === 'number')
        m.turnDuration.observe({ kind: 'orchestration' }, fields.durationMs / 1000);
      break;
    case LOG_EVENTS.entityTurnCommitted:
      m.turns.inc({ kind: 'entity' });
      m.messages.inc({ kind: 'entity' }, number(fields.messages, 1));
      if (typeof fields.durationMs === 'number') m.turnDuration.observe({ kind: 'entity' }, fields.durationMs / 1000);
      break;
    case LOG_EVENTS.turnConflict:
      m.versionConflicts.inc({ kind: instanceKind() });
      break;
    case LOG_EVENTS.lockBusy:
      m.lockBusy.inc(number(fields.messages, 1));
      break;
    case LOG_EVENTS.staleIncarnation:
      m.staleIncarnation.inc(Array.isArray(fields.messages) ? fields.messages.length : 1);
      break;
    case LOG_EVENTS.turnFailed:
      m.turnFailures.inc({ reason: 'error' });
      break;
    case LOG_EVENTS.batchFailed:
      m.turnFailures.inc({ reason: 'backend' });
      break;
    case LOG_EVENTS.nonDeterminism:
      m.turnFailures.inc({ reason: 'non_determinism' });
      break;
    case LOG_EVENTS.activityCompleted:
    case LOG_EVENTS.activityFailed:
      // activity-runner logs the outcome with the request's fields; the worker's own `activityFailed` (a crash
      // of the runner itself) has no `activity` field and is a failure, not an execution.
      if (fields.event === LOG_EVENTS.activityFailed) m.activityFailures.inc();
      if (typeof fields.activity !== 'string') break;
      m.messages.inc({ kind: 'activity' });
      if (number(fields.attempt, 1) > 1) m.activityRetries.inc();
      break;
    case LOG_EVENTS.deadLettered:
      m.deadLettered.inc({ kind: typeof fields.activity === 'string' ? 'activity' : instanceKind() });
      break;
  }
}
