/**
 * Instances that cannot make progress: their code no longer matches their history (a `NonDeterminismError`), or
 * their history cannot be loaded. Nothing is committed but a `stuck` note that the client shows; their messages
 * wait with a back-off that doubles from 1 s to 60 s and are never dead-lettered, so deploying code that matches
 * the history lets the instance continue.
 *
 * The back-off count lives in the worker's memory, not in the record: a stuck instance costs one record write (its
 * note) when it gets stuck, not one per retry. A worker that has not seen the instance before starts from 1 s.
 *
 * An operator must still be able to end such an instance: a `Terminate` among its messages is applied without
 * replaying anything (the history gets an `ExecutionTerminated`, the record says Terminated, a parent is told), so
 * it can then be purged.
 */
import type { FailureDetails } from '../engine/errors.js';
import { NonDeterminismError, toFailureDetails } from '../engine/errors.js';
import { replyToParent } from '../engine/actions.js';
import { events } from '../engine/history.js';
import type { OrchestrationMessage } from '../engine/messages.js';
import { isTerminal } from '../engine/status.js';
import type { StepResult } from '../engine/executor.js';
import type { Clock } from '../backends/clock.js';
import type { Delivery, Queue } from '../backends/queue.js';
import type { InstanceRecord, Store } from '../backends/store.js';
import { nextRecord } from '../backends/store.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';

/** Upper bound of the back-off of an instance that cannot make progress. */
export const MAX_STUCK_BACKOFF_MS = 60_000;
const FIRST_STUCK_BACKOFF_MS = 1000;
/** Instances whose back-off a worker remembers; past this it forgets them all (they start again from 1 s). */
const REMEMBERED = 10_000;

export interface StuckDeps {
  readonly store: Store;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Consecutive turns each stuck instance failed on this worker. Cleared by the instance's next commit. */
  readonly backoffs: Map<string, number>;
}

/**
 * Deals with a turn that failed for the instance's own reasons. Returns the turn to commit when a `Terminate` among
 * `live` ends the instance without a replay; otherwise notes why it is stuck, backs its messages off and returns
 * `undefined`.
 */
export async function stuckTurn(
  deps: StuckDeps,
  instanceId: string,
  record: InstanceRecord | undefined,
  live: readonly Delivery[],
  error: unknown,
): Promise<StepResult | undefined> {
  const failure = toFailureDetails(error);
  const log = {
    event: error instanceof NonDeterminismError ? LOG_EVENTS.nonDeterminism : LOG_EVENTS.turnFailed,
    instanceId,
    ...(record ? { name: record.name } : {}),
    error: failure.message,
  } as const;
  const terminate = live.map((d) => d.message as OrchestrationMessage).find((m) => m.body.type === 'Terminate');
  if (record && terminate?.body.type === 'Terminate' && !isTerminal(record.status)) {
    deps.logger.error(log);
    return terminatedWithoutReplay(record, terminate.body.reason, deps.clock.now());
  }
  const retries = (deps.backoffs.get(instanceId) ?? 0) + 1;
  if (deps.backoffs.size >= REMEMBERED) deps.backoffs.clear();
  deps.backoffs.set(instanceId, retries);
  const delayMs = Math.min(MAX_STUCK_BACKOFF_MS, FIRST_STUCK_BACKOFF_MS * 2 ** Math.min(retries - 1, 10));
  // `stuck`: the instance waits for matching code; `retryInMs` is when its messages come back.
  deps.logger.error({ ...log, stuck: true, failedTurns: retries, retryInMs: delayMs });
  if (record && !sameNote(record.stuck, failure)) await markStuck(deps, record, failure);
  await deps.queue.settle({ release: live.map((delivery) => ({ delivery, delayMs })) });
  return undefined;
}

/** Writes why the instance cannot progress on its record. A lost race only loses the note, never a transition. */
export async function markStuck(
  deps: Pick<StuckDeps, 'store' | 'clock'>,
  record: InstanceRecord,
  stuck: FailureDetails,
): Promise<void> {
  const { stack: _stack, ...brief } = stuck;
  await deps.store.compareAndSet(nextRecord(record, { stuck: brief, updatedAt: deps.clock.now() }), record.version);
}

function sameNote(note: FailureDetails | undefined, failure: FailureDetails): boolean {
  return note !== undefined && note.name === failure.name && note.message === failure.message;
}

/** The turn that terminates `record`'s execution as the executor would, from the record alone. */
function terminatedWithoutReplay(record: InstanceRecord, reason: string | undefined, now: number): StepResult {
  const failure: FailureDetails = { name: 'Terminated', message: reason ?? 'Terminated', code: 'TERMINATED' };
  const { output: _output, stuck: _stuck, ...rest } = record;
  return {
    newEvents: [events.executionTerminated(reason, now)],
    messages: record.parent ? [replyToParent(record.parent, { ok: false, failure })] : [],
    deferred: [],
    dropped: [],
    snapshot: {
      instanceId: rest.instanceId,
      name: rest.name,
      generation: rest.generation,
      status: 'Terminated',
      failure,
      ...(rest.incarnation !== undefined ? { incarnation: rest.incarnation } : {}),
      ...(rest.input !== undefined ? { input: rest.input } : {}),
      ...(rest.customStatus !== undefined ? { customStatus: rest.customStatus } : {}),
      ...(rest.parent !== undefined ? { parent: rest.parent } : {}),
    },
  };
}
