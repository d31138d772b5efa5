/**
 * What the CLI reads out of an instance's history: a timeline a person can follow (`durable history`) and what a
 * live instance is waiting for (`durable status`). Pure functions of the events the HTTP API returns.
 *
 * A step is opened by one event and closed by another with the same `seq` (`TaskScheduled` → `TaskCompleted` or
 * `TaskFailed`, `TimerCreated` → `TimerFired`, …). A step that is open at the end of the history is what the
 * instance waits for. `EntitySignaled` opens nothing: a signal is one-way. A `waitForEvent` without a timeout
 * leaves no event at all, so an instance with nothing open is reported as waiting for an event.
 */
import type { HistoryEvent, HistoryEventType } from '../engine/history.js';
import { STEP_CLOSING_EVENTS, STEP_OPENING_EVENTS } from '../engine/history.js';
import { duration, iso, json, relative, short, table } from './format.js';

/** An event as the API returns it: a known history event, or one from a newer server that this CLI does not know. */
export type ApiEvent = HistoryEvent | { readonly type: string; readonly at: number; readonly [key: string]: unknown };

function known(event: ApiEvent): HistoryEvent {
  return event as HistoryEvent;
}

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
    if (STEP_OPENING_EVENTS.has(event.type as HistoryEventType)) open.set(seq, known(event));
    else if (STEP_CLOSING_EVENTS.has(event.type as HistoryEventType)) open.delete(seq);
  }
  const lines = [...open.values()].map((e) => describeOpen(e, now));
  return lines.length > 0 ? lines : ['an event (no activity, timer or entity call is open)'];
}

/** The detail column of one event. */
function detail(e: HistoryEvent, opened: ReadonlyMap<number, HistoryEvent>): string {
  switch (e.type) {
    case 'ExecutionStarted':
      return `${e.name}${e.input === undefined ? '' : ` ${json(e.input, 50)}`}${e.parent ? ` (child of ${e.parent.instanceId})` : ''}`;
    case 'TaskScheduled':
      return `${e.name}${e.input === undefined ? '' : ` ${json(e.input, 50)}`}`;
    case 'SubOrchestrationCreated':
      return `${e.name} (${e.instanceId})${e.input === undefined ? '' : ` ${json(e.input, 40)}`}`;
    case 'EntityCalled':
      return `${e.entityId}: ${e.operation}${e.input === undefined ? '' : ` ${json(e.input, 40)}`}`;
    case 'EntityLockRequested':
      return e.entities.join(', ');
    case 'TimerCreated': {
      const what = e.purpose === 'event-timeout' ? 'event timeout' : e.purpose === 'retry' ? 'retry' : 'fires';
      return `${what} at ${iso(e.fireAt)} (in ${duration(e.fireAt - e.at)})`;
    }
    case 'TimerFired':
      return `due ${iso(e.fireAt)}`;
    case 'TaskCompleted':
    case 'SubOrchestrationCompleted':
      return outcome(opened.get(e.seq), json(e.result, 50));
    case 'TaskFailed':
    case 'SubOrchestrationFailed':
      return outcome(opened.get(e.seq), `${e.failure.name}: ${short(e.failure.message, 60)}`);
    case 'EntityResponded':
      return outcome(
        opened.get(e.seq),
        e.failure ? `${e.failure.name}: ${short(e.failure.message, 60)}` : json(e.result, 50),
      );
    case 'EntityLockGranted':
      return outcome(opened.get(e.seq), '');
    case 'EntitySignaled':
      return `${e.entityId}: ${e.operation}${e.input === undefined ? '' : ` ${json(e.input, 40)}`}${e.deliverAt === undefined ? '' : ` at ${iso(e.deliverAt)}`}`;
    case 'EventRaised':
      return `${e.name}${e.input === undefined ? '' : ` ${json(e.input, 50)}`}`;
    case 'ExecutionSuspended':
    case 'ExecutionResumed':
    case 'ExecutionTerminated':
      return e.reason ?? '';
    case 'ExecutionCompleted':
      return `${e.status}${e.failure ? ` ${e.failure.name}: ${short(e.failure.message, 60)}` : e.result === undefined ? '' : ` ${json(e.result, 50)}`}`;
    default: {
      const { type: _type, at: _at, ...rest } = e as ApiEvent;
      return json(rest, 70);
    }
  }
}

/** What a closing event reports ("sayHello → Hello Tokyo!"), named after the event that opened its step. */
function outcome(open: HistoryEvent | undefined, result: string): string {
  let name = '';
  if (open?.type === 'TaskScheduled' || open?.type === 'SubOrchestrationCreated') name = open.name;
  else if (open?.type === 'EntityCalled') name = `${open.entityId}: ${open.operation}`;
  else if (open?.type === 'EntityLockRequested') name = open.entities.join(', ');
  if (!name) return result;
  return result ? `${name} → ${result}` : name;
}

/**
 * The history as a table: the time since the first event and the ISO time of each event, its type and step number,
 * what it means, and on each event that closes a step (an activity's result, a timer firing…) how long the step
 * took since it was opened.
 * @example
 * timeline(events);
 * // #  +TIME  AT                        EVENT             SEQ  DETAIL              TOOK
 * // 0  +0ms   2026-01-01T00:00:00.000Z  ExecutionStarted       helloSequence …
 */
export function timeline(events: readonly ApiEvent[]): string {
  const start = events[0]?.at ?? 0;
  const opened = new Map<number, HistoryEvent>();
  const rows = events.map((event, i) => {
    const e = known(event);
    const seq = seqOf(event);
    let took = '';
    if (seq !== undefined && STEP_OPENING_EVENTS.has(event.type as HistoryEventType)) opened.set(seq, e);
    if (seq !== undefined && STEP_CLOSING_EVENTS.has(event.type as HistoryEventType)) {
      const open = opened.get(seq);
      if (open) took = duration(event.at - open.at);
    }
    return [
      String(i),
      `+${duration(event.at - start)}`,
      iso(event.at),
      event.type,
      seq === undefined ? '' : String(seq),
      detail(e, opened),
      took,
    ];
  });
  return table(['#', '+TIME', 'AT', 'EVENT', 'SEQ', 'DETAIL', 'TOOK'], rows);
}
