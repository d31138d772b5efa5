/**
 * One orchestration turn: take the replayed executor (or replay), apply a batch of the instance's messages, and
 * plan the commit; `commitPlans` (turn-plan.ts) then commits the whole batch's turns together.
 *
 * The order is what makes a crash anywhere safe:
 *   1. archive the previous tail as a history chunk (already-committed data under a deterministic key);
 *   2. compare-and-set the instance record on its version: new status, new tail, new outbox — THE commit;
 *   3. send the outbox;
 *   4. acknowledge the consumed messages.
 * A crash before 2 leaves the old version and the messages are redelivered; a crash after 2 leaves the new
 * version, whose outbox is re-sent by whoever loads the instance next, and the redelivered messages are
 * dropped as duplicates. A worker whose lock expired cannot overwrite a newer commit: its CAS fails.
 *
 * It is guaranteed by the caller that one worker runs at most one turn per instance at a time (the lock is for
 * efficiency; the version check is for safety).
 */
import type { App } from '../engine/app.js';
import type { FailureDetails } from '../engine/errors.js';
import type { ExecutorOptions, StepResult } from '../engine/executor.js';
import { OrchestrationExecutor } from '../engine/executor.js';
import { instanceExists, replyToParent } from '../engine/actions.js';
import type { HistoryEvent } from '../engine/history.js';
import { events } from '../engine/history.js';
import { findNonJson } from '../engine/json-value.js';
import type { Message, OrchestrationMessage } from '../engine/messages.js';
import type { Clock } from '../backends/clock.js';
import type { Delivery, Queue } from '../backends/queue.js';
import type { HistoryChunk, InstanceRecord, Store } from '../backends/store.js';
import { incarnationOf, loadHistory } from '../backends/store.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { TurnPlan } from './turn-plan.js';
import type { Logger } from '../observability/logger.js';
import type { ExecutorCache } from './executor-cache.js';
import type { DeterminismGuard } from './determinism-guard.js';
import { toResend } from './outbox.js';
import type { StuckDeps } from './stuck-instance.js';
import { markStuck, stuckTurn } from './stuck-instance.js';

export interface TurnDeps extends StuckDeps {
  readonly app: App;
  readonly store: Store;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly cache: ExecutorCache;
  readonly executorOptions: ExecutorOptions;
  /** A message delivered more often than this (its turns keep crashing the worker) is dead-lettered. */
  readonly maxDeliveries: number;
  /** Delay before a message that cannot apply yet (instance not started, between generations) is retried. */
  readonly deferDelayMs: number;
  /** The epoch of the lock the worker holds its instances with, stamped on every record it commits. */
  readonly lockEpoch: string;
  /** Warns when orchestration code reads the clock or Math.random (`durable dev`); absent, nothing is watched. */
  readonly guard?: DeterminismGuard;
}

/**
 * Plans one turn for `instanceId` over `deliveries` (all addressed to it): replays or takes the cached executor,
 * applies the messages, and returns what to commit, send and settle; `commitPlans` does that for the whole batch.
 * Returns `undefined` when the deliveries were already dealt with (dead-lettered, orphaned, backed off).
 * Never throws for instance problems.
 */
export async function planOrchestrationTurn(
  deps: TurnDeps,
  instanceId: string,
  record: InstanceRecord | undefined,
  deliveries: Delivery[],
  outboxMayBeUnsent: boolean,
): Promise<TurnPlan | undefined> {
  const startedAt = performance.now();
  const current = await dropOtherIncarnations(deps, record, await deadLetterPoison(deps, instanceId, deliveries));
  const live = current.live;
  if (live.length === 0) return current.replies.length > 0 ? nothingButReplies(instanceId, current.replies) : undefined;
  const messages = live.map((d) => d.message as OrchestrationMessage);
  // The previous owner may have died between its commit and its send: send its outbox before anything else
  // (before this turn's commit replaces the outbox). A send that fails fails the batch, which keeps the lock
  // unreleased, so the next owner sends again.
  if (record && outboxMayBeUnsent) await resendOutbox(deps, record, messages);

  let executor: OrchestrationExecutor | undefined;
  let fresh = false;
  let result: StepResult;
  try {
    const prepared = await prepare(deps, instanceId, record, messages, live);
    if (!prepared) return undefined;
    const { stale } = prepared;
    ({ executor, fresh } = prepared);
    const now = deps.clock.now();
    const ready = messages.filter((m) => !stale.has(m));
    result = await guarded(deps, executor, (e) => e.step(ready, now));
    // Continue-as-new starts the next generation in the same turn, with the messages that arrived after the
    // request (in arrival order), so nothing waits between generations and no later message can overtake them.
    for (let hops = 0; result.snapshot.status === 'ContinuedAsNew' && hops < MAX_INLINE_CONTINUATIONS; hops++) {
      const continued = await continueInline(deps, instanceId, result, now);
      if (!continued) break;
      ({ executor, result } = continued);
      fresh = true;
    }
  } catch (error) {
    deps.cache.delete(instanceId);
    const terminated = await stuckTurn(deps, instanceId, record, live, error);
    if (!terminated) return undefined;
    // Ended without a replay: there is no executor to keep.
    ({ executor, result, fresh } = { executor: undefined, result: terminated, fresh: false });
  }
  const deferred = new Set(result.deferred);
  const ack = live.filter((d) => !deferred.has(d.message as OrchestrationMessage));
  const release = live
    .filter((d) => deferred.has(d.message as OrchestrationMessage))
    .map((delivery) => ({ delivery, delayMs: deps.deferDelayMs }));

  if (result.newEvents.length === 0) {
    // Nothing to commit: every message was a duplicate, stale or early. Replies that need no state change
    // (a refused sub-orchestration start) are deterministic, so sending them without a commit is safe.
    if (record && !fresh && executor) deps.cache.put(instanceId, record.version, executor);
    return { instanceId, messages: result.messages, ack, release, deliveries: live };
  }

  const problem = findTurnProblem(result);
  if (problem !== undefined) {
    deps.logger.error({ event: LOG_EVENTS.turnFailed, instanceId, error: problem });
    result = failedTurn(result, fresh, problem, deps.clock.now());
  }
  // A failed turn's executor has run past what is committed: the next turn replays the history instead.
  const cacheable = problem === undefined ? executor : undefined;
  const { next, archive } = buildRecord(instanceId, record, fresh, result, deps.clock.now(), deps.lockEpoch);
  return {
    instanceId,
    commit: { next, expectedVersion: record?.version ?? 0, ...(archive ? { archive } : {}) },
    messages: result.messages,
    ack,
    release,
    deliveries: live,
    settled: (committed) => {
      if (committed) {
        deps.backoffs.delete(instanceId);
        if (cacheable) deps.cache.put(instanceId, next.version, cacheable);
        else deps.cache.delete(instanceId);
        deps.logger.debug({
          event: LOG_EVENTS.turnCommitted,
          instanceId,
          name: next.name,
          version: next.version,
          status: next.status,
          generation: next.generation,
          // What the turn moved the instance from (absent: it created it), so a reader can tell a start from a step.
          ...(record ? { previousStatus: record.status, previousGeneration: record.generation } : {}),
          createdAt: next.createdAt,
          updatedAt: next.updatedAt,
          ...(next.failure ? { error: next.failure.message, errorName: next.failure.name } : {}),
          ...retriesOf(result.newEvents),
          events: result.newEvents.length,
          messages: result.messages.length,
          consumed: ack.length,
          durationMs: performance.now() - startedAt,
        });
      } else {
        // Someone committed first (a worker whose lock we took over, or a client start): forget the executor,
        // the messages come back to whoever holds the instance now.
        deps.cache.delete(instanceId);
        deps.logger.warn({ event: LOG_EVENTS.turnConflict, instanceId, expectedVersion: record?.version ?? 0 });
      }
    },
    ...(record && next.generation > record.generation
      ? {
          // Chunks of earlier generations are garbage now; losing this cleanup to a crash only wastes space.
          cleanup: () => deps.store.deleteHistory(instanceId, next).catch(() => undefined),
        }
      : {}),
  };
}

/**
 * Messages for another incarnation of the instance id (an old timer, a late result or event of a run that was
 * purged, the start of a purged parent's child) must never touch this one: they are acknowledged and counted. A
 * sub-orchestration start among them is answered, so that its parent does not wait forever: the id is taken.
 */
async function dropOtherIncarnations(
  deps: TurnDeps,
  record: InstanceRecord | undefined,
  deliveries: Delivery[],
): Promise<{ live: Delivery[]; replies: Message[] }> {
  if (!record) return { live: deliveries, replies: [] };
  const incarnation = incarnationOf(record);
  const live: Delivery[] = [];
  const dropped: Delivery[] = [];
  const replies: Message[] = [];
  for (const d of deliveries) {
    const message = d.message as OrchestrationMessage;
    if (message.incarnation === undefined || message.incarnation === incarnation) {
      live.push(d);
      continue;
    }
    dropped.push(d);
    if (message.body.type === 'ExecutionStarted' && message.body.parent) {
      replies.push(instanceExists(record.instanceId, message.body.parent));
    }
  }
  if (dropped.length > 0) {
    deps.logger.warn({
      event: LOG_EVENTS.staleIncarnation,
      instanceId: record.instanceId,
      messages: dropped.map((d) => d.message.id),
    });
    await deps.queue.settle({ ack: dropped });
  }
  return { live, replies };
}

/** A turn that only sends replies that need no state change (they are deterministic: safe to send again). */
function nothingButReplies(instanceId: string, messages: Message[]): TurnPlan {
  return { instanceId, messages, ack: [], release: [], deliveries: [] };
}

/**
 * How many generations one turn may run through. An orchestration that continues as new without waiting for
 * anything would otherwise never end its turn; past this, the usual path takes over (commit ContinuedAsNew, send the
 * next start, defer what arrives meanwhile).
 */
const MAX_INLINE_CONTINUATIONS = 20;

/**
 * Runs the next generation of an execution that just continued as new: its start message (taken out of the
 * outbox: it is applied here, not sent) followed by the messages the previous generation deferred. The result
 * stands for the whole turn: the next generation's events and status, every message both generations produced.
 */
async function continueInline(
  deps: TurnDeps,
  instanceId: string,
  result: StepResult,
  now: number,
): Promise<{ executor: OrchestrationExecutor; result: StepResult } | undefined> {
  const generation = result.snapshot.generation + 1;
  const start = result.messages.find(
    (m) => m.instanceId === instanceId && m.body.type === 'ExecutionStarted' && m.body.generation === generation,
  ) as OrchestrationMessage | undefined;
  if (!start) return undefined;
  const executor = newExecutor(deps, instanceId);
  const next = await guarded(deps, executor, (e) => e.step([start, ...result.deferred], now));
  return {
    executor,
    result: {
      ...next,
      messages: [...result.messages.filter((m) => m !== start), ...next.messages],
      dropped: [...result.dropped, ...next.dropped],
    },
  };
}

interface Plan {
  readonly executor: OrchestrationExecutor;
  /** True when the turn starts a new generation (or a new instance): no previous history applies. */
  readonly fresh: boolean;
  /** Start messages for another generation: acknowledged without effect. */
  readonly stale: Set<OrchestrationMessage>;
}

async function prepare(
  deps: TurnDeps,
  instanceId: string,
  record: InstanceRecord | undefined,
  messages: OrchestrationMessage[],
  live: Delivery[],
): Promise<Plan | undefined> {
  const starts = messages.filter((m) => m.body.type === 'ExecutionStarted');
  const generationOf = (m: OrchestrationMessage): number =>
    m.body.type === 'ExecutionStarted' ? m.body.generation : -1;

  if (!record) {
    // Only a start (of a sub-orchestration; clients create the record first) may create an instance.
    const start = starts[0];
    if (!start) {
      deps.logger.warn({ event: LOG_EVENTS.orphanMessage, instanceId, messages: messages.map((m) => m.id) });
      await Promise.all(live.map((d) => deps.queue.ack(d)));
      return undefined;
    }
    const generation = generationOf(start);
    return {
      executor: newExecutor(deps, instanceId),
      fresh: true,
      stale: new Set(starts.filter((m) => generationOf(m) !== generation)),
    };
  }

  const nextGeneration = record.status === 'ContinuedAsNew' ? record.generation + 1 : undefined;
  const continued = starts.find((m) => generationOf(m) === nextGeneration);
  const generation = continued ? generationOf(continued) : record.generation;
  const stale = new Set(starts.filter((m) => generationOf(m) !== generation));
  if (continued) return { executor: newExecutor(deps, instanceId), fresh: true, stale };

  const cached = deps.cache.take(instanceId, record.version);
  if (cached) return { executor: cached, fresh: false, stale };
  // A history that cannot be loaded or replayed throws: the instance is stuck (stuck-instance.ts).
  const executor = newExecutor(deps, instanceId);
  const history = await loadHistory(deps.store, record);
  await guarded(deps, executor, (e) => e.load(history));
  return { executor, fresh: false, stale };
}

/** Sends `record`'s outbox again, except what `arriving` answers. */
export async function resendOutbox(
  deps: Pick<TurnDeps, 'queue' | 'logger'>,
  record: InstanceRecord,
  arriving: readonly Message[],
): Promise<void> {
  const resend = toResend(record, arriving);
  if (resend.length === 0) return;
  await deps.queue.send(resend);
  deps.logger.info({ event: LOG_EVENTS.outboxResent, instanceId: record.instanceId, messages: resend.length });
}

/** Runs orchestration code (an executor's `load` or `step`) under the determinism guard, when there is one. */
function guarded<T>(
  deps: TurnDeps,
  executor: OrchestrationExecutor,
  fn: (executor: OrchestrationExecutor) => Promise<T>,
): Promise<T> {
  if (!deps.guard) return fn(executor);
  return deps.guard.run({ instanceId: executor.instanceId, name: () => executor.snapshot.name }, () => fn(executor));
}

function newExecutor(deps: TurnDeps, instanceId: string): OrchestrationExecutor {
  return new OrchestrationExecutor(instanceId, deps.app, deps.executorOptions);
}

/**
 * The first value of the turn JSON cannot carry, or `undefined`. The executor refuses such values where the code
 * hands them over, so this finds only values changed afterwards (an input mutated after the call); it walks the
 * turn's new events and messages without serialising anything.
 */
function findTurnProblem(result: StepResult): string | undefined {
  return (
    findNonJson(result.newEvents, 'events') ??
    findNonJson(result.messages, 'messages') ??
    findNonJson(result.snapshot.customStatus, 'customStatus') ??
    findNonJson(result.snapshot.output, 'output')
  );
}

/**
 * Replaces a turn that made a value JSON cannot carry. Committing it would make the store refuse the write of
 * every turn committed with it (SQLite commits a batch in one transaction), run after run; instead this instance
 * alone fails. Its history gets an `ExecutionTerminated` (replayed the same whatever the code does, and terminal,
 * so no later turn commits again) and its record says Failed, code VALIDATION, with the path. A parent is told.
 * Known gap: entity locks the instance holds are not released (the executor cannot be asked to end cleanly
 * from a state it has already left).
 */
function failedTurn(result: StepResult, fresh: boolean, problem: string, now: number): StepResult {
  const { output: _output, customStatus: _customStatus, ...snapshot } = result.snapshot;
  const failure: FailureDetails = {
    name: 'SerializationError',
    code: 'VALIDATION',
    message: `Orchestration '${snapshot.name}' made a value JSON cannot carry (${problem}); the instance failed instead of committing it.`,
  };
  // A new execution keeps its start, which came as JSON in a message: the history must begin with one.
  const started = fresh ? result.newEvents.filter((e) => e.type === 'ExecutionStarted').slice(0, 1) : [];
  return {
    newEvents: [...started, events.executionTerminated(failure.message, now)],
    messages: snapshot.parent ? [replyToParent(snapshot.parent, { ok: false, failure })] : [],
    deferred: result.deferred,
    dropped: result.dropped,
    snapshot: { ...snapshot, status: 'Failed', failure },
  };
}

/**
 * How much history a record's tail may hold before a turn archives it as a chunk: a short orchestration's whole
 * history then lives in its record, so a turn writes one document and a replay reads none (on RethinkDB that halved
 * the documents written per HelloCities), while a long one's record stays bounded and no turn rewrites more than
 * this much history.
 */
export const TAIL_LIMIT = { events: 64, bytes: 32 * 1024 } as const;

/**
 * The record a turn commits, and the chunk it archives first (if any). The new events join the previous tail while
 * the tail stays within {@link TAIL_LIMIT}; past it the previous tail is archived and the new events start a new one.
 */
function buildRecord(
  instanceId: string,
  record: InstanceRecord | undefined,
  fresh: boolean,
  result: StepResult,
  now: number,
  lockEpoch: string,
): { next: InstanceRecord; archive?: HistoryChunk } {
  const s = result.snapshot;
  const previous = record && !fresh && record.generation === s.generation ? record : undefined;
  const base = previous?.historyLength ?? 0;
  const joined = previous ? [...previous.tail.events, ...result.newEvents] : result.newEvents;
  const keep = previous !== undefined && withinTailLimit(joined);
  const archive = previous && !keep && previous.tail.events.length > 0 ? previous.tail : undefined;
  const next = withoutUndefined({
    instanceId,
    version: (record?.version ?? 0) + 1,
    name: s.name,
    generation: s.generation,
    status: s.status,
    input: s.input,
    output: s.output,
    failure: s.failure,
    customStatus: s.customStatus,
    parent: s.parent,
    incarnation: s.incarnation,
    createdAt: record?.createdAt ?? now,
    updatedAt: now,
    historyLength: base + result.newEvents.length,
    tail: withoutUndefined({
      instanceId,
      incarnation: s.incarnation,
      generation: s.generation,
      fromIndex: keep ? previous.tail.fromIndex : base,
      events: keep ? joined : result.newEvents,
    }),
    outbox: result.messages,
    lockEpoch,
  });
  return archive ? { next, archive } : { next };
}

function withinTailLimit(events: readonly HistoryEvent[]): boolean {
  return events.length <= TAIL_LIMIT.events && JSON.stringify(events).length <= TAIL_LIMIT.bytes;
}

/** Dead-letters messages whose turns keep crashing workers, and notes why on the instance. */
export async function deadLetterPoison(
  deps: TurnDeps,
  instanceId: string,
  deliveries: Delivery[],
): Promise<Delivery[]> {
  const live: Delivery[] = [];
  for (const d of deliveries) {
    if (d.attempt <= deps.maxDeliveries) {
      live.push(d);
      continue;
    }
    const reason = `Delivered ${d.attempt} times without completing a turn (the worker crashed or timed out each time).`;
    await deps.queue.deadLetter(d, reason);
    deps.logger.error({ event: LOG_EVENTS.deadLettered, instanceId, messageId: d.message.id, reason });
    const record = await deps.store.get(instanceId);
    if (record)
      await markStuck(deps, record, {
        name: 'PoisonMessage',
        message: `${d.message.id}: ${reason}`,
        code: 'POISON_MESSAGE',
      });
  }
  return live;
}

/**
 * The retries a turn scheduled: each retry timer follows, in the same turn, the failure it retries (an activity's or
 * a sub-orchestration's), so the log can say what failed and how long the instance waits before the next attempt.
 */
function retriesOf(newEvents: readonly HistoryEvent[]): { retries?: RetryNote[] } {
  const retries: RetryNote[] = [];
  let failed: RetryNote['failed'] | undefined;
  for (const e of newEvents) {
    if (e.type === 'TaskFailed') failed = { kind: 'activity', seq: e.seq, error: e.failure.message };
    else if (e.type === 'SubOrchestrationFailed')
      failed = { kind: 'sub-orchestration', seq: e.seq, error: e.failure.message };
    else if (e.type === 'TimerCreated' && e.purpose === 'retry' && failed) {
      retries.push({ failed, delayMs: Math.max(0, e.fireAt - e.at) });
      failed = undefined;
    }
  }
  return retries.length > 0 ? { retries } : {};
}

/** One retry a turn scheduled (a field of the `turnCommitted` log line). */
export interface RetryNote {
  readonly failed: { readonly kind: 'activity' | 'sub-orchestration'; readonly seq: number; readonly error: string };
  readonly delayMs: number;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
