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
  entityOperationFailed: 'entity.operation_failed',
  turnConflict: 'orchestration.version_conflict',
  turnFailed: 'orchestration.turn_failed',
  batchFailed: 'worker.batch_failed',
  nonDeterminism: 'orchestration.non_determinism',
  /** `durable dev` only: orchestration code read the wall clock or Math.random during a turn (once per name). */
  nondeterministicCall: 'orchestration.nondeterministic_call',
  outboxResent: 'orchestration.outbox_resent',
  staleIncarnation: 'orchestration.stale_incarnation_dropped',
  startsResent: 'orchestration.pending_starts_resent',
  orphanMessage: 'orchestration.orphan_message',
  lockBusy: 'orchestration.lock_busy',
  deadLettered: 'message.dead_lettered',
  queueReclaimed: 'queue.reclaimed',
  partitionsWatchFailed: 'worker.partitions_watch_failed',
  activityCompleted: 'activity.completed',
  activityFailed: 'activity.failed',
  activityLeaseLost: 'activity.lease_lost',
  orchestrationLog: 'orchestration.log',
  httpRequest: 'http.request',
  httpInternalError: 'http.internal_error',
  // The `durable worker` process itself.
  opsListening: 'worker.ops_listening',
  drainStarted: 'worker.drain_started',
  drained: 'worker.drained',
  drainTimeout: 'worker.drain_timeout',
  fatal: 'worker.fatal',
  // Partition Leases on Kubernetes (src/backends/kubernetes/partition-leases.ts, which cannot import this file).
  leasesListFailed: 'leases.list_failed',
  leasesRenewFailed: 'leases.renew_failed',
  leasesAcquireFailed: 'leases.acquire_failed',
  leasesReleaseFailed: 'leases.release_failed',
  leasesMemberFailed: 'leases.member_failed',
  leasesDrainFailed: 'leases.drain_failed',
  leasesThrottled: 'leases.throttled',
  leasesAcquired: 'leases.acquired',
  leasesReleased: 'leases.released',
  leasesLost: 'leases.lost',
  // The operator (operator/).
  operatorStarted: 'operator.started',
  operatorLeading: 'operator.leading',
  operatorLeadershipLost: 'operator.leadership_lost',
  operatorStopped: 'operator.stopped',
  operatorInformerFailed: 'operator.informer_failed',
  operatorApplied: 'operator.applied',
  operatorDeleted: 'operator.deleted',
  operatorReconcileFailed: 'operator.reconcile_failed',
  operatorSpecInvalid: 'operator.spec_invalid',
  operatorFinalized: 'operator.finalized',
  operatorEventFailed: 'operator.event_failed',
  // The operator's leader election (operator/leader-election.ts) and work queue (operator/work-queue.ts).
  leaderAcquired: 'leader.acquired',
  leaderRenewFailed: 'leader.renew_failed',
  leaderAcquireFailed: 'leader.acquire_failed',
  leaderThrottled: 'leader.throttled',
  leaderLost: 'leader.lost',
  leaderReleased: 'leader.released',
  leaderReleaseFailed: 'leader.release_failed',
  leaderObserved: 'leader.observed',
  leaderCallbackFailed: 'leader.callback_failed',
} as const;

/** Every event name of the catalogue: a {@link LogRecord}'s `event` must be one of them. */
export type LogEventName = (typeof LOG_EVENTS)[keyof typeof LOG_EVENTS];
