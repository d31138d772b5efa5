/**
 * History events: the durable record of one orchestration execution (one generation).
 *
 * History is append-only. Replaying the same events against the same code rebuilds the same state; that
 * is the whole trick. Every event carries `at`, the time of the turn that recorded it, which is also what
 * `ctx.now()` returns while the code runs in response to it.
 */
import type { FailureDetails } from './errors.js';

/** Why a timer exists; used in nondeterminism messages and the dashboard. */
export type TimerPurpose = 'timer' | 'retry' | 'event-timeout';

/** Where a sub-orchestration reports back to. */
export interface ParentRef {
  readonly instanceId: string;
  readonly generation: number;
  readonly seq: number;
  /** The parent's incarnation: its reply is addressed to that creation of the parent id, not a later one. */
  readonly incarnation?: string;
}

export type HistoryEvent =
  | {
      readonly type: 'ExecutionStarted';
      readonly at: number;
      readonly name: string;
      readonly input: unknown;
      readonly generation: number;
      /** Which creation of the instance id this is (see messages.ts); absent in histories written before it existed. */
      readonly incarnation?: string;
      readonly parent?: ParentRef;
      /** Unconsumed events carried over by `continueAsNew(…, { keepUnprocessedEvents: true })`, in arrival order. */
      readonly carriedEvents?: readonly HistoryEventOf<'EventRaised'>[];
      /** Ids of the events the previous generations received (the newest {@link EVENT_ID_WINDOW}): repeats are dropped. */
      readonly seenEventIds?: readonly string[];
    }
  | {
      readonly type: 'TaskScheduled';
      readonly at: number;
      readonly seq: number;
      readonly name: string;
      readonly input: unknown;
    }
  | { readonly type: 'TaskCompleted'; readonly at: number; readonly seq: number; readonly result: unknown }
  | { readonly type: 'TaskFailed'; readonly at: number; readonly seq: number; readonly failure: FailureDetails }
  | {
      readonly type: 'SubOrchestrationCreated';
      readonly at: number;
      readonly seq: number;
      readonly name: string;
      readonly instanceId: string;
      readonly input: unknown;
    }
  | { readonly type: 'SubOrchestrationCompleted'; readonly at: number; readonly seq: number; readonly result: unknown }
  | {
      readonly type: 'SubOrchestrationFailed';
      readonly at: number;
      readonly seq: number;
      readonly failure: FailureDetails;
    }
  | {
      readonly type: 'TimerCreated';
      readonly at: number;
      readonly seq: number;
      readonly fireAt: number;
      readonly purpose: TimerPurpose;
    }
  | { readonly type: 'TimerFired'; readonly at: number; readonly seq: number; readonly fireAt: number }
  | {
      readonly type: 'EntityCalled';
      readonly at: number;
      readonly seq: number;
      readonly entityId: string;
      readonly operation: string;
      readonly input?: unknown;
    }
  | {
      readonly type: 'EntitySignaled';
      readonly at: number;
      readonly seq: number;
      readonly entityId: string;
      readonly operation: string;
      readonly input?: unknown;
      /** Epoch ms of a scheduled signal. */
      readonly deliverAt?: number;
    }
  | {
      readonly type: 'EntityResponded';
      readonly at: number;
      readonly seq: number;
      readonly result?: unknown;
      readonly failure?: FailureDetails;
    }
  | {
      readonly type: 'EntityLockRequested';
      readonly at: number;
      readonly seq: number;
      readonly lockId: string;
      /** In the global order the locks are taken in. */
      readonly entities: readonly string[];
    }
  | { readonly type: 'EntityLockGranted'; readonly at: number; readonly seq: number }
  | {
      readonly type: 'EventRaised';
      readonly at: number;
      readonly name: string;
      readonly input: unknown;
      /** The id of the message that carried the event; a second copy of it is dropped. */
      readonly messageId: string;
    }
  | { readonly type: 'ExecutionSuspended'; readonly at: number; readonly reason?: string }
  | { readonly type: 'ExecutionResumed'; readonly at: number; readonly reason?: string }
  | { readonly type: 'ExecutionTerminated'; readonly at: number; readonly reason?: string }
  | {
      readonly type: 'ExecutionCompleted';
      readonly at: number;
      readonly status: 'Completed' | 'Failed' | 'ContinuedAsNew';
      readonly result?: unknown;
      readonly failure?: FailureDetails;
    };

export type HistoryEventType = HistoryEvent['type'];

/** The event of a given type. */
export type HistoryEventOf<K extends HistoryEventType> = Extract<HistoryEvent, { type: K }>;

/**
 * The events that open a numbered step an orchestration then waits on (signals are one-way and open none), and the
 * events that close one, by the same `seq`. An open step at the end of a history is what the instance waits for.
 */
export const STEP_OPENING_EVENTS: ReadonlySet<HistoryEventType> = new Set<HistoryEventType>([
  'TaskScheduled',
  'SubOrchestrationCreated',
  'TimerCreated',
  'EntityCalled',
  'EntityLockRequested',
]);
export const STEP_CLOSING_EVENTS: ReadonlySet<HistoryEventType> = new Set<HistoryEventType>([
  'TaskCompleted',
  'TaskFailed',
  'SubOrchestrationCompleted',
  'SubOrchestrationFailed',
  'TimerFired',
  'EntityResponded',
  'EntityLockGranted',
]);

type Fields<K extends HistoryEventType> = Omit<HistoryEventOf<K>, 'type' | 'at'>;

/**
 * Small event factories, for tests and for the executor. `at` defaults to 0.
 * @example
 * const history = [events.executionStarted({ name: 'hello', input: 1, generation: 0 }, 1000)];
 */
export const events = {
  executionStarted: (f: Fields<'ExecutionStarted'>, at = 0): HistoryEventOf<'ExecutionStarted'> => ({
    type: 'ExecutionStarted',
    at,
    ...f,
  }),
  taskScheduled: (seq: number, name: string, input?: unknown, at = 0): HistoryEventOf<'TaskScheduled'> => ({
    type: 'TaskScheduled',
    at,
    seq,
    name,
    input,
  }),
  taskCompleted: (seq: number, result?: unknown, at = 0): HistoryEventOf<'TaskCompleted'> => ({
    type: 'TaskCompleted',
    at,
    seq,
    result,
  }),
  taskFailed: (seq: number, failure: FailureDetails, at = 0): HistoryEventOf<'TaskFailed'> => ({
    type: 'TaskFailed',
    at,
    seq,
    failure,
  }),
  subOrchestrationCreated: (
    f: Fields<'SubOrchestrationCreated'>,
    at = 0,
  ): HistoryEventOf<'SubOrchestrationCreated'> => ({
    type: 'SubOrchestrationCreated',
    at,
    ...f,
  }),
  subOrchestrationCompleted: (seq: number, result?: unknown, at = 0): HistoryEventOf<'SubOrchestrationCompleted'> => ({
    type: 'SubOrchestrationCompleted',
    at,
    seq,
    result,
  }),
  subOrchestrationFailed: (seq: number, failure: FailureDetails, at = 0): HistoryEventOf<'SubOrchestrationFailed'> => ({
    type: 'SubOrchestrationFailed',
    at,
    seq,
    failure,
  }),
  timerCreated: (
    seq: number,
    fireAt: number,
    purpose: TimerPurpose = 'timer',
    at = 0,
  ): HistoryEventOf<'TimerCreated'> => ({
    type: 'TimerCreated',
    at,
    seq,
    fireAt,
    purpose,
  }),
  timerFired: (seq: number, fireAt: number, at = fireAt): HistoryEventOf<'TimerFired'> => ({
    type: 'TimerFired',
    at,
    seq,
    fireAt,
  }),
  entityCalled: (f: Fields<'EntityCalled'>, at = 0): HistoryEventOf<'EntityCalled'> => ({
    type: 'EntityCalled',
    at,
    ...f,
  }),
  entitySignaled: (f: Fields<'EntitySignaled'>, at = 0): HistoryEventOf<'EntitySignaled'> => ({
    type: 'EntitySignaled',
    at,
    ...f,
  }),
  entityResponded: (
    seq: number,
    outcome: { result?: unknown; failure?: FailureDetails },
    at = 0,
  ): HistoryEventOf<'EntityResponded'> => ({ type: 'EntityResponded', at, seq, ...outcome }),
  entityLockRequested: (f: Fields<'EntityLockRequested'>, at = 0): HistoryEventOf<'EntityLockRequested'> => ({
    type: 'EntityLockRequested',
    at,
    ...f,
  }),
  entityLockGranted: (seq: number, at = 0): HistoryEventOf<'EntityLockGranted'> => ({
    type: 'EntityLockGranted',
    at,
    seq,
  }),
  eventRaised: (name: string, input: unknown, messageId: string, at = 0): HistoryEventOf<'EventRaised'> => ({
    type: 'EventRaised',
    at,
    name,
    input,
    messageId,
  }),
  executionSuspended: (reason?: string, at = 0): HistoryEventOf<'ExecutionSuspended'> => ({
    type: 'ExecutionSuspended',
    at,
    ...(reason !== undefined ? { reason } : {}),
  }),
  executionResumed: (reason?: string, at = 0): HistoryEventOf<'ExecutionResumed'> => ({
    type: 'ExecutionResumed',
    at,
    ...(reason !== undefined ? { reason } : {}),
  }),
  executionTerminated: (reason?: string, at = 0): HistoryEventOf<'ExecutionTerminated'> => ({
    type: 'ExecutionTerminated',
    at,
    ...(reason !== undefined ? { reason } : {}),
  }),
  executionCompleted: (f: Fields<'ExecutionCompleted'>, at = 0): HistoryEventOf<'ExecutionCompleted'> => ({
    type: 'ExecutionCompleted',
    at,
    ...f,
  }),
};
