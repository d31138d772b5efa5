/**
 * One entity turn: apply a batch of an entity's messages; the new data is committed with one compare-and-set
 * (grouped with the batch's other turns), then the outbox is sent and the messages acknowledged. The same crash
 * reasoning as an orchestration turn applies: before the commit nothing happened (messages come back), after it
 * the outbox is re-sent by the next turn that finds it unsent, and receivers drop repeats.
 */
import type { App } from '../engine/app.js';
import { parseEntityId } from '../engine/entity.js';
import type { EntityExecutorOptions } from '../engine/entity-executor.js';
import { executeEntityBatch } from '../engine/entity-executor.js';
import type { EntityMessage } from '../engine/messages.js';
import type { Clock } from '../backends/clock.js';
import type { Delivery, Queue } from '../backends/queue.js';
import type { InstanceRecord, Store } from '../backends/store.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';
import type { TurnDeps } from './orchestration-turn.js';
import type { TurnPlan } from './turn-plan.js';
import { deadLetterPoison, resendOutbox } from './orchestration-turn.js';

export interface EntityTurnDeps {
  readonly app: App;
  readonly store: Store;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options: EntityExecutorOptions;
  readonly turnDeps: TurnDeps;
}

/** Plans one entity turn (see `commitPlans`); `undefined` when the deliveries were already dealt with. */
export async function planEntityTurn(
  deps: EntityTurnDeps,
  entityId: string,
  record: InstanceRecord | undefined,
  deliveries: Delivery[],
  outboxMayBeUnsent: boolean,
): Promise<TurnPlan | undefined> {
  const startedAt = performance.now();
  const live = await deadLetterPoison(deps.turnDeps, entityId, deliveries);
  if (live.length === 0) return undefined;
  // As for orchestrations: the last committer may have died before sending; send before this turn's commit.
  if (record && outboxMayBeUnsent)
    await resendOutbox(
      deps,
      record,
      live.map((d) => d.message),
    );
  const now = deps.clock.now();
  const result = await executeEntityBatch(
    entityId,
    deps.app,
    record?.entity,
    live.map((d) => d.message as EntityMessage),
    now,
    deps.options,
  );
  if (!result.changed) return { instanceId: entityId, messages: [], ack: live, release: [], deliveries: live };
  const next: InstanceRecord = {
    instanceId: entityId,
    kind: 'entity',
    version: (record?.version ?? 0) + 1,
    name: parseEntityId(entityId).name,
    generation: 0,
    status: 'Running',
    createdAt: record?.createdAt ?? now,
    updatedAt: now,
    historyLength: 0,
    tail: { instanceId: entityId, generation: 0, fromIndex: 0, events: [] },
    outbox: result.messages,
    lockEpoch: deps.turnDeps.lockEpoch,
    entity: result.data,
  };
  return {
    instanceId: entityId,
    commit: { next, expectedVersion: record?.version ?? 0 },
    messages: result.messages,
    ack: live,
    release: [],
    deliveries: live,
    settled: (committed) => {
      if (committed) {
        deps.logger.debug({
          event: LOG_EVENTS.entityTurnCommitted,
          instanceId: entityId,
          version: next.version,
          messages: live.length,
          durationMs: performance.now() - startedAt,
        });
        // Logged once committed (a turn that loses its commit runs again): a signal's failure has no one else to
        // tell, and a call's caller gets it in its history, but the entity's own log is where an operator looks.
        for (const f of result.failures) {
          deps.logger.warn({
            event: LOG_EVENTS.entityOperationFailed,
            instanceId: entityId,
            operation: f.operation,
            from: f.from,
            signal: f.signal,
            error: f.failure.message,
            errorName: f.failure.name,
          });
        }
      } else {
        deps.logger.warn({
          event: LOG_EVENTS.turnConflict,
          instanceId: entityId,
          expectedVersion: record?.version ?? 0,
        });
      }
    },
  };
}
