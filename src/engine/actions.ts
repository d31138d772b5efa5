/**
 * Actions: what orchestration code asks for. Each takes a sequence number; the executor records it as a history
 * event (so replay can check the code still asks for the same thing) and, on the first run, sends a message.
 * This file maps an action to both, and describes actions and events for nondeterminism errors.
 */
import type { FailureDetails } from './errors.js';
import type { HistoryEvent, HistoryEventOf, ParentRef, TimerPurpose } from './history.js';
import { events } from './history.js';
import type { EntityMessage, Message, OrchestrationMessage } from './messages.js';
import { messageId, orchestrationSenderId, PRIORITY } from './messages.js';
import { childIncarnation } from './child-id.js';

export type Action =
  | {
      readonly kind: 'activity';
      readonly name: string;
      readonly input: unknown;
      readonly attempt: number;
      readonly key: string;
    }
  | { readonly kind: 'sub'; readonly name: string; readonly input: unknown; readonly instanceId: string }
  | { readonly kind: 'timer'; readonly fireAt: number; readonly purpose: TimerPurpose }
  | {
      readonly kind: 'entity-call';
      readonly entityId: string;
      readonly operation: string;
      readonly input: unknown;
      /** Position in this sender's stream of messages to the entity. */
      readonly n: number;
      readonly lockId?: string;
    }
  | {
      readonly kind: 'entity-signal';
      readonly entityId: string;
      readonly operation: string;
      readonly input: unknown;
      /** Unordered (scheduled) signals have none. */
      readonly n?: number;
      readonly deliverAt?: number;
    }
  | {
      readonly kind: 'entity-lock';
      readonly lockId: string;
      readonly entities: readonly string[];
      readonly n: number;
    };

/** The instance (and generation) that takes the actions. */
export interface Source {
  readonly instanceId: string;
  readonly generation: number;
  /** '' for an instance created before incarnations existed. */
  readonly incarnation: string;
}

/** The history event that records an action. */
export function scheduledEvent(seq: number, action: Action, at: number): HistoryEvent {
  switch (action.kind) {
    case 'activity':
      return events.taskScheduled(seq, action.name, action.input, at);
    case 'sub':
      return events.subOrchestrationCreated(
        { seq, name: action.name, instanceId: action.instanceId, input: action.input },
        at,
      );
    case 'timer':
      return events.timerCreated(seq, action.fireAt, action.purpose, at);
    case 'entity-call':
      return events.entityCalled(
        { seq, entityId: action.entityId, operation: action.operation, input: action.input },
        at,
      );
    case 'entity-signal':
      return events.entitySignaled(
        {
          seq,
          entityId: action.entityId,
          operation: action.operation,
          input: action.input,
          ...(action.deliverAt !== undefined ? { deliverAt: action.deliverAt } : {}),
        },
        at,
      );
    case 'entity-lock':
      return events.entityLockRequested({ seq, lockId: action.lockId, entities: action.entities }, at);
  }
}

/** Whether a recorded event is what the code asks for now (names and kinds; inputs are not compared). */
export function matches(action: Action, event: HistoryEvent): boolean {
  switch (event.type) {
    case 'TaskScheduled':
      return action.kind === 'activity' && action.name === event.name;
    case 'SubOrchestrationCreated':
      return action.kind === 'sub' && action.name === event.name && action.instanceId === event.instanceId;
    case 'TimerCreated':
      return action.kind === 'timer' && action.purpose === event.purpose;
    case 'EntityCalled':
      return (
        action.kind === 'entity-call' && action.entityId === event.entityId && action.operation === event.operation
      );
    case 'EntitySignaled':
      return (
        action.kind === 'entity-signal' && action.entityId === event.entityId && action.operation === event.operation
      );
    case 'EntityLockRequested':
      return action.kind === 'entity-lock' && action.entities.join('\n') === event.entities.join('\n');
    default:
      return false;
  }
}

/** The message that carries an action out, or `undefined` for a timer cancelled before it was sent. */
export function actionMessage(source: Source, seq: number, action: Action): Message {
  const { instanceId, generation, incarnation } = source;
  const sender = orchestrationSenderId(instanceId, generation, incarnation);
  // Replies come back to this incarnation only: the activity's result, the timer, the entity's response.
  const mine = incarnation ? { incarnation } : {};
  switch (action.kind) {
    case 'activity':
      return {
        id: messageId(instanceId, generation, 'activity', seq),
        queue: 'activities',
        instanceId,
        ...mine,
        body: {
          type: 'ActivityRequest',
          name: action.name,
          input: action.input,
          generation,
          seq,
          attempt: action.attempt,
          idempotencyKey: action.key,
        },
        priority: PRIORITY.work,
      };
    case 'sub':
      return startMessage(
        action.instanceId,
        action.name,
        action.input,
        0,
        { instanceId, generation, seq, ...mine },
        undefined,
        childIncarnation(incarnation, generation, seq),
      );
    case 'timer':
      return {
        id: messageId(instanceId, generation, 'timer', seq),
        queue: 'orchestrations',
        instanceId,
        ...mine,
        body: { type: 'TimerFired', generation, seq, fireAt: action.fireAt },
        deliverAt: action.fireAt,
        priority: PRIORITY.reply,
      };
    case 'entity-call':
      return entityMessage(messageId(instanceId, generation, 'entity', seq), action.entityId, {
        type: 'EntityOperation',
        operation: action.operation,
        input: action.input,
        sender: { id: sender, n: action.n },
        replyTo: { instanceId, generation, seq, ...mine },
        ...(action.lockId !== undefined ? { lockId: action.lockId } : {}),
      });
    case 'entity-signal':
      return {
        ...entityMessage(messageId(instanceId, generation, 'entity', seq), action.entityId, {
          type: 'EntityOperation',
          operation: action.operation,
          input: action.input,
          sender: { id: sender, ...(action.n !== undefined ? { n: action.n } : {}) },
        }),
        ...(action.deliverAt !== undefined ? { deliverAt: action.deliverAt } : {}),
      };
    case 'entity-lock':
      return entityMessage(messageId(instanceId, generation, 'entity', seq), action.entities[0] ?? '', {
        type: 'EntityLock',
        lockId: action.lockId,
        holder: { instanceId, generation, seq, ...mine },
        entities: action.entities,
        index: 0,
        sender: { id: sender, n: action.n },
      });
  }
}

export function entityMessage(id: string, entityId: string, body: EntityMessage['body']): EntityMessage {
  return { id, queue: 'orchestrations', instanceId: entityId, body, priority: PRIORITY.work };
}

/** Releases a critical section's lock on one entity. */
export function unlockMessage(source: Source, lockId: string, entityId: string, n: number): EntityMessage {
  return entityMessage(`${lockId}/unlock/${entityId}`, entityId, {
    type: 'EntityUnlock',
    lockId,
    sender: { id: orchestrationSenderId(source.instanceId, source.generation, source.incarnation), n },
  });
}

/** Starts an execution (a new instance, a child, or the next generation after continue-as-new). */
export function startMessage(
  instanceId: string,
  name: string,
  input: unknown,
  generation: number,
  parent?: ParentRef,
  carriedEvents?: readonly HistoryEventOf<'EventRaised'>[],
  incarnation?: string,
  seenEventIds?: readonly string[],
): OrchestrationMessage {
  return {
    id: messageId(instanceId, generation, 'start', 0),
    queue: 'orchestrations',
    instanceId,
    ...(incarnation ? { incarnation } : {}),
    body: {
      type: 'ExecutionStarted',
      name,
      input,
      generation,
      ...(incarnation ? { incarnation } : {}),
      ...(parent ? { parent } : {}),
      ...(carriedEvents && carriedEvents.length > 0 ? { carriedEvents } : {}),
      ...(seenEventIds && seenEventIds.length > 0 ? { seenEventIds } : {}),
    },
    priority: PRIORITY.control,
  };
}

/** A child's result, sent to its parent. */
export function replyToParent(
  parent: ParentRef,
  reply: { ok: true; result: unknown } | { ok: false; failure: FailureDetails },
): OrchestrationMessage {
  return {
    id: messageId(parent.instanceId, parent.generation, 'sub-result', parent.seq),
    queue: 'orchestrations',
    instanceId: parent.instanceId,
    ...(parent.incarnation ? { incarnation: parent.incarnation } : {}),
    body: reply.ok
      ? { type: 'SubOrchestrationCompleted', generation: parent.generation, seq: parent.seq, result: reply.result }
      : { type: 'SubOrchestrationFailed', generation: parent.generation, seq: parent.seq, failure: reply.failure },
    priority: PRIORITY.reply,
  };
}

/** The answer to a sub-orchestration start whose child id is taken: the parent's call fails, it does not hang. */
export function instanceExists(instanceId: string, parent: ParentRef): OrchestrationMessage {
  return replyToParent(parent, {
    ok: false,
    failure: {
      name: 'InstanceExistsError',
      code: 'INSTANCE_EXISTS',
      message: `Instance ${instanceId} already exists; a sub-orchestration needs an unused instance id.`,
    },
  });
}

export function describe(action: Action): string {
  switch (action.kind) {
    case 'activity':
      return `callActivity('${action.name}')`;
    case 'sub':
      return `callSubOrchestration('${action.name}', instance ${action.instanceId})`;
    case 'timer':
      return action.purpose === 'timer' ? 'createTimer()' : `a ${action.purpose} timer`;
    case 'entity-call':
      return `callEntity('${action.entityId}', '${action.operation}')`;
    case 'entity-signal':
      return `signalEntity('${action.entityId}', '${action.operation}')`;
    case 'entity-lock':
      return `lock(${action.entities.join(', ')})`;
  }
}

export function describeEvent(event: HistoryEvent): string {
  switch (event.type) {
    case 'TaskScheduled':
      return `TaskScheduled('${event.name}')`;
    case 'SubOrchestrationCreated':
      return `SubOrchestrationCreated('${event.name}', instance ${event.instanceId})`;
    case 'TimerCreated':
      return `TimerCreated(${event.purpose})`;
    case 'EntityCalled':
    case 'EntitySignaled':
      return `${event.type}('${event.entityId}', '${event.operation}')`;
    case 'EntityLockRequested':
      return `EntityLockRequested(${event.entities.join(', ')})`;
    default:
      return event.type;
  }
}

/** The name a failure message uses for an action. */
export function nameOf(action: Action): string {
  switch (action.kind) {
    case 'timer':
      return 'timer';
    case 'entity-call':
    case 'entity-signal':
      return action.operation;
    case 'entity-lock':
      return 'lock';
    default:
      return action.name;
  }
}
