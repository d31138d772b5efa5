/**
 * The catalogue of log events: every structured log line the runtime writes has one of these as its `event`
 * field, so dashboards and alerts can match on a stable name instead of on message text.
 */
export const LOG_EVENTS = {
  workerStarted: 'worker.started',
  workerStopping: 'worker.stopping',
  workerStopped: 'worker.stopped',
  turnCommitted: 'orchestration.turn_committed',
  entityTurnCommitted: 'entity.turn_committed',
  turnConflict: 'orchestration.version_conflict',
  turnFailed: 'orchestration.turn_failed',
  batchFailed: 'worker.batch_failed',
  nonDeterminism: 'orchestration.non_determinism',
  outboxResent: 'orchestration.outbox_resent',
  orphanMessage: 'orchestration.orphan_message',
  lockBusy: 'orchestration.lock_busy',
  deadLettered: 'message.dead_lettered',
  activityCompleted: 'activity.completed',
  activityFailed: 'activity.failed',
  activityLeaseLost: 'activity.lease_lost',
  orchestrationLog: 'orchestration.log',
  httpRequest: 'http.request',
  httpInternalError: 'http.internal_error',
} as const;

export type LogEvent = (typeof LOG_EVENTS)[keyof typeof LOG_EVENTS];
