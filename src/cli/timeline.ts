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
import { duration, iso, json, short, table } from './format.js';
import { waitingFor } from '../client/waiting-for.js';

/** What a live instance waits for (now computed by the server as well: `waitingFor` in its status). */
export { waitingFor };

export type { ApiEvent } from '../client/waiting-for.js';
import type { ApiEvent } from '../client/waiting-for.js';

function known(event: ApiEvent): HistoryEvent {
  return event as HistoryEvent;
}

function seqOf(event: ApiEvent): number | undefined {
  const seq = (event as { seq?: unknown }).seq;
  return typeof seq === 'number' ? seq : undefined;
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
