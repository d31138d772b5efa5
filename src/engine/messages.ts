/**
 * Messages: everything in transit between instances, the activity pool and clients.
 *
 * A message is addressed to one queue. Orchestration messages carry the target instance id; the worker
 * groups them by instance. Message ids are deterministic wherever the engine produces them
 * (`<instance>/<generation>/<kind>/<seq>`), so a message sent twice is recognised and dropped by its
 * receiver: the queue is allowed to deliver a message more than once, never to lose one.
 */
import type { FailureDetails } from './errors.js';
import type { HistoryEventOf, ParentRef } from './history.js';

export type QueueName = 'orchestrations' | 'activities';

/** Every queue, orchestrations first (the order listings and redrives go through them). */
export const QUEUE_NAMES: readonly QueueName[] = ['orchestrations', 'activities'];

export type OrchestrationMessageBody =
  | {
      readonly type: 'ExecutionStarted';
      readonly name: string;
      readonly input: unknown;
      readonly generation: number;
      /** The incarnation the started execution belongs to (the envelope's, repeated into history). */
      readonly incarnation?: string;
      readonly parent?: ParentRef;
      /** Events carried over by `continueAsNew(…, { keepUnprocessedEvents: true })`. */
      readonly carriedEvents?: readonly HistoryEventOf<'EventRaised'>[];
      /** Ids of events the previous generations received, newest last: an event raised twice is delivered once. */
      readonly seenEventIds?: readonly string[];
    }
  | { readonly type: 'TaskCompleted'; readonly generation: number; readonly seq: number; readonly result: unknown }
  | { readonly type: 'TaskFailed'; readonly generation: number; readonly seq: number; readonly failure: FailureDetails }
  | {
      readonly type: 'SubOrchestrationCompleted';
      readonly generation: number;
      readonly seq: number;
      readonly result: unknown;
    }
  | {
      readonly type: 'SubOrchestrationFailed';
      readonly generation: number;
      readonly seq: number;
      readonly failure: FailureDetails;
    }
  | { readonly type: 'TimerFired'; readonly generation: number; readonly seq: number; readonly fireAt: number }
  | {
      readonly type: 'EntityResponse';
      readonly generation: number;
      readonly seq: number;
      readonly result?: unknown;
      readonly failure?: FailureDetails;
    }
  | { readonly type: 'EntityLockGranted'; readonly generation: number; readonly seq: number }
  | { readonly type: 'EventRaised'; readonly name: string; readonly input: unknown }
  | { readonly type: 'Suspend'; readonly reason?: string }
  | { readonly type: 'Resume'; readonly reason?: string }
  | { readonly type: 'Terminate'; readonly reason?: string };

/**
 * Who sent an entity message. Messages from one durable sender (an orchestration generation, an entity) carry
 * `n`, consecutive per (sender, target entity): the entity applies them in that order, holds early ones back and
 * drops repeats. Messages without `n` (from clients, scheduled signals) are unordered and deduplicated by id.
 */
export interface EntitySender {
  /** `<orchestration id>/<generation>`, an entity id, or `client`. */
  readonly id: string;
  readonly n?: number;
}

/** Where an entity sends a response: the calling orchestration's call. */
export interface ReplyTo {
  readonly instanceId: string;
  readonly generation: number;
  readonly seq: number;
  readonly incarnation?: string;
}

export type EntityMessageBody =
  | {
      readonly type: 'EntityOperation';
      readonly operation: string;
      readonly input?: unknown;
      readonly sender: EntitySender;
      /** Present for calls: the caller awaits the result. Absent for signals. */
      readonly replyTo?: ReplyTo;
      /** The critical section this call runs in, if any: it may run while the entity is locked by it. */
      readonly lockId?: string;
    }
  | {
      readonly type: 'EntityLock';
      readonly lockId: string;
      /** The orchestration taking the lock; the last entity tells it the lock is granted. */
      readonly holder: ReplyTo;
      /** Every entity of the section, in the global order locks are taken in. */
      readonly entities: readonly string[];
      /** This entity's position in `entities`. */
      readonly index: number;
      readonly sender: EntitySender;
    }
  | {
      readonly type: 'EntityUnlock';
      readonly lockId: string;
      readonly sender: EntitySender;
    };

export interface ActivityRequest {
  readonly type: 'ActivityRequest';
  readonly name: string;
  readonly input: unknown;
  readonly generation: number;
  readonly seq: number;
  /** 1 for the first attempt; policy retries schedule a new request with the next attempt number. */
  readonly attempt: number;
  /** Same for every attempt and redelivery of one call: `<instance>/<generation>/<seq of the first attempt>`. */
  readonly idempotencyKey: string;
}

interface Envelope<Q extends QueueName, B> {
  /** Deterministic where the engine made it; receivers drop a second copy. */
  readonly id: string;
  readonly queue: Q;
  /** The orchestration this message is for (activities: the orchestration that called them). */
  readonly instanceId: string;
  /**
   * The incarnation of `instanceId` the message belongs to. Every creation of an instance id (a client start, a
   * sub-orchestration start, a start after a purge) gets a new random incarnation, kept in its record; a message
   * for another incarnation (an old timer, a late result, a signal of a purged run) is dropped on arrival. Absent on
   * messages to entities and on messages written before incarnations existed (then nothing is checked).
   */
  readonly incarnation?: string;
  readonly body: B;
  /** Epoch ms before which the message must not be delivered (timers, retries). */
  readonly deliverAt?: number;
  /** Lower runs first. Replies and control messages go before new work. */
  readonly priority?: number;
}

export type OrchestrationMessage = Envelope<'orchestrations', OrchestrationMessageBody>;
/** Entity messages travel on the orchestrations queue; `instanceId` is the entity id (`name@key`). */
export type EntityMessage = Envelope<'orchestrations', EntityMessageBody>;
export type ActivityMessage = Envelope<'activities', ActivityRequest>;
export type Message = OrchestrationMessage | EntityMessage | ActivityMessage;

/** Priorities: replies and control first, then new work. */
export const PRIORITY = { control: 0, reply: 10, work: 100 } as const;

/**
 * The sender id of an orchestration execution, as entities know it: `<instance>/<incarnation>/<generation>`
 * (`<instance>/<generation>` for instances without an incarnation). Instance ids never contain `/`.
 */
export function orchestrationSenderId(instanceId: string, generation: number, incarnation?: string): string {
  return incarnation ? `${instanceId}/${incarnation}/${generation}` : `${instanceId}/${generation}`;
}

/** The parts of an orchestration sender id, or `undefined` for another sender (an entity, a client). */
export function parseOrchestrationSenderId(
  id: string,
): { instanceId: string; generation: number; incarnation?: string } | undefined {
  const parts = id.split('/');
  const generation = Number(parts.at(-1));
  if (parts.length < 2 || parts.length > 3 || !Number.isInteger(generation)) return undefined;
  const instanceId = parts[0] as string;
  return parts.length === 3 ? { instanceId, generation, incarnation: parts[1] as string } : { instanceId, generation };
}

/** The deterministic id of an engine-produced message. */
export function messageId(instanceId: string, generation: number, kind: string, seq: number | string): string {
  return `${instanceId}/${generation}/${kind}/${seq}`;
}
