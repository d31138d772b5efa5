/**
 * Message intake: the history event a new message becomes. All events of one turn carry the turn's time.
 */
import type { Action } from './actions.js';
import type { HistoryEvent } from './history.js';
import { events } from './history.js';
import type { OrchestrationMessage } from './messages.js';

/** Which kind of call each reply message answers. */
export const REPLY_KINDS = {
  TaskCompleted: 'activity',
  TaskFailed: 'activity',
  SubOrchestrationCompleted: 'sub',
  SubOrchestrationFailed: 'sub',
  TimerFired: 'timer',
  EntityResponse: 'entity-call',
  EntityLockGranted: 'entity-lock',
} as const satisfies Record<string, Action['kind']>;

export function messageToEvent(message: OrchestrationMessage, now: number): HistoryEvent {
  const body = message.body;
  switch (body.type) {
    case 'ExecutionStarted':
      return events.executionStarted(
        {
          name: body.name,
          input: body.input,
          generation: body.generation,
          ...(body.incarnation !== undefined ? { incarnation: body.incarnation } : {}),
          ...(body.parent ? { parent: body.parent } : {}),
          ...(body.carriedEvents?.length ? { carriedEvents: body.carriedEvents } : {}),
          ...(body.seenEventIds?.length ? { seenEventIds: body.seenEventIds } : {}),
        },
        now,
      );
    case 'TaskCompleted':
      return events.taskCompleted(body.seq, body.result, now);
    case 'TaskFailed':
      return events.taskFailed(body.seq, body.failure, now);
    case 'SubOrchestrationCompleted':
      return events.subOrchestrationCompleted(body.seq, body.result, now);
    case 'SubOrchestrationFailed':
      return events.subOrchestrationFailed(body.seq, body.failure, now);
    case 'TimerFired':
      return events.timerFired(body.seq, body.fireAt, now);
    case 'EntityResponse':
      return events.entityResponded(
        body.seq,
        body.failure !== undefined ? { failure: body.failure } : { result: body.result },
        now,
      );
    case 'EntityLockGranted':
      return events.entityLockGranted(body.seq, now);
    case 'EventRaised':
      return events.eventRaised(body.name, body.input, message.id, now);
    case 'Suspend':
      return events.executionSuspended(body.reason, now);
    case 'Resume':
      return events.executionResumed(body.reason, now);
    case 'Terminate':
      return events.executionTerminated(body.reason, now);
  }
}
