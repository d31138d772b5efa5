/**
 * The history as spans, for the Gantt chart: each step (activity, timer, sub-orchestration, entity call, lock) is a
 * bar from the event that opened it to the one that closed it (matched by `seq`), or to now while it is open; events
 * that open nothing (an event raised, a signal sent, suspend/resume) are points.
 *
 * Which events open and close a step is the engine's STEP_OPENING_EVENTS / STEP_CLOSING_EVENTS: the table below
 * names a role for every event type (the compiler makes it exhaustive), and test/browser/timeline.test.ts checks
 * that it agrees with the engine's sets.
 */
import type { ApiEvent, HistoryEvent, HistoryEventType } from './types.js';

export type StepRole = 'open' | 'close' | 'point';

export const EVENT_ROLES: Readonly<Record<HistoryEventType, StepRole>> = {
  ExecutionStarted: 'point',
  TaskScheduled: 'open',
  TaskCompleted: 'close',
  TaskFailed: 'close',
  SubOrchestrationCreated: 'open',
  SubOrchestrationCompleted: 'close',
  SubOrchestrationFailed: 'close',
  TimerCreated: 'open',
  TimerFired: 'close',
  EntityCalled: 'open',
  EntitySignaled: 'point',
  EntityResponded: 'close',
  EntityLockRequested: 'open',
  EntityLockGranted: 'close',
  EventRaised: 'point',
  ExecutionSuspended: 'point',
  ExecutionResumed: 'point',
  ExecutionTerminated: 'point',
  ExecutionCompleted: 'point',
};

export type SpanKind = 'activity' | 'sub-orchestration' | 'timer' | 'entity' | 'lock' | 'event' | 'execution';

export interface Span {
  readonly kind: SpanKind;
  readonly label: string;
  readonly start: number;
  /** Undefined while open. */
  readonly end: number | undefined;
  readonly outcome: 'ok' | 'failed' | 'open' | 'point';
  readonly seq?: number;
  /** A sub-orchestration's instance id (a link). */
  readonly instanceId?: string;
}

function roleOf(type: string): StepRole | undefined {
  return (EVENT_ROLES as Record<string, StepRole | undefined>)[type];
}

function seqOf(event: ApiEvent): number | undefined {
  const seq = (event as { seq?: unknown }).seq;
  return typeof seq === 'number' ? seq : undefined;
}

function opening(e: HistoryEvent): Omit<Span, 'start' | 'end' | 'outcome'> {
  switch (e.type) {
    case 'TaskScheduled':
      return { kind: 'activity', label: `activity ${e.name}`, seq: e.seq };
    case 'SubOrchestrationCreated':
      return { kind: 'sub-orchestration', label: `sub-orchestration ${e.name}`, seq: e.seq, instanceId: e.instanceId };
    case 'TimerCreated':
      return {
        kind: 'timer',
        label: e.purpose === 'event-timeout' ? 'event timeout' : e.purpose === 'retry' ? 'retry timer' : 'timer',
        seq: e.seq,
      };
    case 'EntityCalled':
      return { kind: 'entity', label: `entity ${e.entityId}: ${e.operation}`, seq: e.seq };
    case 'EntityLockRequested':
      return { kind: 'lock', label: `locks ${e.entities.join(', ')}`, seq: e.seq };
    default:
      return { kind: 'event', label: e.type };
  }
}

function failed(e: ApiEvent): boolean {
  if (e.type === 'TaskFailed' || e.type === 'SubOrchestrationFailed') return true;
  return e.type === 'EntityResponded' && (e as { failure?: unknown }).failure !== undefined;
}

function point(e: ApiEvent): Span | undefined {
  const h = e as HistoryEvent;
  switch (h.type) {
    case 'EventRaised':
      return { kind: 'event', label: `event ${h.name}`, start: h.at, end: h.at, outcome: 'point' };
    case 'EntitySignaled':
      return {
        kind: 'entity',
        label: `signal ${h.entityId}: ${h.operation}`,
        start: h.at,
        end: h.at,
        outcome: 'point',
      };
    case 'ExecutionSuspended':
    case 'ExecutionResumed':
    case 'ExecutionTerminated':
      return {
        kind: 'execution',
        label: h.type.replace('Execution', '').toLowerCase(),
        start: h.at,
        end: h.at,
        outcome: 'point',
      };
    default:
      return undefined;
  }
}

/** The execution's own bar: started → completed (or now). */
export interface Timeline {
  readonly start: number;
  readonly end: number;
  readonly running: boolean;
  readonly spans: Span[];
}

/**
 * @example
 * buildTimeline(history.events, Date.now()).spans; // [{ kind: 'activity', label: 'activity sayHello', start, end, outcome: 'ok' }, …]
 */
export function buildTimeline(events: readonly ApiEvent[], now: number): Timeline {
  const spans: Span[] = [];
  const open = new Map<number, number>(); // seq → index in spans
  let finished: number | undefined;
  for (const event of events) {
    const role = roleOf(event.type);
    const seq = seqOf(event);
    if (event.type === 'ExecutionCompleted' || event.type === 'ExecutionTerminated') finished = event.at;
    if (role === 'open' && seq !== undefined) {
      open.set(seq, spans.length);
      spans.push({ ...opening(event as HistoryEvent), start: event.at, end: undefined, outcome: 'open' });
    } else if (role === 'close' && seq !== undefined) {
      const index = open.get(seq);
      if (index === undefined) continue;
      open.delete(seq);
      spans[index] = { ...spans[index]!, end: event.at, outcome: failed(event) ? 'failed' : 'ok' };
    } else {
      const p = point(event);
      if (p) spans.push(p);
    }
  }
  const start = events[0]?.at ?? now;
  const running = finished === undefined;
  const end = Math.max(finished ?? now, ...spans.map((s) => s.end ?? now), start);
  return { start, end, running, spans };
}

/** A duration as people read it: 840 ms, 1.2 s, 3 min 4 s, 2 h 5 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.round((ms % 86_400_000) / 3_600_000)} h`;
}
