/**
 * What a live instance is waiting for, read from its history: one line per step opened and not closed (an
 * activity, a sub-orchestration, a timer, an entity call, a lock request), oldest first. Computed by the server
 * for `GET /api/instances/:id` (`waitingFor`) and by older CLIs from the history; the lines are the same.
 *
 * A step is opened by one event and closed by another with the same `seq` (`TaskScheduled` → `TaskCompleted` or
 * `TaskFailed`, `TimerCreated` → `TimerFired`, …). `EntitySignaled` opens nothing: a signal is one-way. A
 * `waitForEvent` without a timeout leaves no event at all, so an instance with nothing open is reported as waiting
 * for an event.
 */
import type { HistoryEvent, HistoryEventType } from '../engine/history.js';
import { STEP_CLOSING_EVENTS, STEP_OPENING_EVENTS } from '../engine/history.js';
import { duration, iso, json, relative } from './text-format.js';

/** An event as the API returns it: a known history event, or one from a newer server that this code does not know. */
export type ApiEvent = HistoryEvent | { readonly type: string; readonly at: number; readonly [key: string]: unknown };

function seqOf(event: ApiEvent): number | undefined {
  const seq = (event as { seq?: unknown }).seq;
  return typeof seq === 'number' ? seq : undefined;
}

/** One line about what an opening event asked for, and how long it has waited. */
function describeOpen(e: HistoryEvent, now: number): string {
  const waited = `(for ${duration(now - e.at)})`;
  switch (e.type) {
    case 'TaskScheduled':
      return `activity ${e.name}${e.input === undefined ? '' : ` ${json(e.input, 40)}`} ${waited}`;
    case 'SubOrchestrationCreated':
      return `sub-orchestration ${e.name} ${e.instanceId} ${waited}`;
    case 'TimerCreated': {
      const when = `${iso(e.fireAt)} (${relative(e.fireAt, now)})`;
      if (e.purpose === 'event-timeout') return `an event, or its timeout at ${when}`;
      if (e.purpose === 'retry') return `a retry at ${when}`;
      return `timer until ${when}`;
    }
    case 'EntityCalled':
      return `entity ${e.entityId}: ${e.operation} ${waited}`;
    case 'EntityLockRequested':
      return `locks on ${e.entities.join(', ')} ${waited}`;
    default:
      return `${e.type} ${waited}`;
  }
}

/**
 * What a live instance waits for: one line per step opened and not closed, oldest first, each with how long it has
 * been waiting; or one line saying it waits for an event when nothing is open.
 * @example
 * waitingFor([started, taskScheduled(0, 'sayHello', 'Tokyo')], Date.now());
 * // ['activity sayHello "Tokyo" (for 1.2s)']
 */
export function waitingFor(events: readonly ApiEvent[], now: number): string[] {
  const open = new Map<number, HistoryEvent>();
  for (const event of events) {
    const seq = seqOf(event);
    if (seq === undefined) continue;
    if (STEP_OPENING_EVENTS.has(event.type as HistoryEventType)) open.set(seq, event as HistoryEvent);
    else if (STEP_CLOSING_EVENTS.has(event.type as HistoryEventType)) open.delete(seq);
  }
  const lines = [...open.values()].map((e) => describeOpen(e, now));
  return lines.length > 0 ? lines : ['an event (no activity, timer or entity call is open)'];
}
