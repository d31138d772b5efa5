/**
 * The replay engine: history + new messages + registered code → new events, outgoing messages, status.
 *
 * An executor holds one instance's replayed state for one generation. `load(history)` replays committed
 * events (code runs with `isReplaying = true`, durable calls are matched against the history); `step(messages,
 * now)` applies new messages and returns what the turn adds. The runtime keeps executors of recently used
 * instances in memory, so a turn costs only its new events; after a cache miss it loads the history again.
 *
 * Invariants:
 * - Tasks settle only while an event is applied, and the code is drained (all microtasks run) after each
 *   event, so tasks settle in history order on the first run and on every replay.
 * - Every durable call takes the next sequence number. On replay, the history's `TaskScheduled`,
 *   `TimerCreated` and `SubOrchestrationCreated` at a sequence must match what the code asked for at that
 *   sequence; anything else is a {@link NonDeterminismError}, raised before anything is committed.
 * - A message changes state at most once: completions are accepted only for open calls of the current
 *   generation, events only once per message id, control messages only where they change the status.
 */
import type { Action } from './actions.js';
import {
  actionMessage,
  describe,
  describeEvent,
  instanceExists,
  matches,
  nameOf,
  replyToParent,
  scheduledEvent,
  startMessage,
  unlockMessage,
} from './actions.js';
import type { App } from './app.js';
import type { ContextHost, CriticalSection, LogLevel } from './context.js';
import { createContext } from './context.js';
import { defaultChildId } from './child-id.js';
import { seededUint32, uuidFrom } from './deterministic-random.js';
import type { FailureDetails } from './errors.js';
import {
  ActivityFailedError,
  EntityOperationFailedError,
  EventTimeoutError,
  NonDeterminismError,
  SubOrchestrationFailedError,
  toFailureDetails,
} from './errors.js';
import type { HistoryEvent, HistoryEventOf, HistoryEventType, ParentRef, TimerPurpose } from './history.js';
import { events, STEP_CLOSING_EVENTS } from './history.js';
import type { Message, OrchestrationMessage } from './messages.js';
import type { RuntimeStatus } from './status.js';
import { isTerminal } from './status.js';
import { EntityLocks } from './entity-locks.js';
import { EventInbox } from './event-inbox.js';
import { yieldToEventLoop } from './event-loop.js';
import { messageToEvent, REPLY_KINDS } from './intake.js';
import { requireJson } from './json-value.js';
import type { ContinueAsNewRequest, Outcome } from './outcome.js';
import { ContinueAsNewSignal, outcomeStatus } from './outcome.js';
import { DurableTask, holdRaceCancellation } from './task.js';
import type { ExecutorOptions, OrchestrationSnapshot, StepResult } from './turn-result.js';

export type { ExecutorOptions, OrchestrationLogRecord, OrchestrationSnapshot, StepResult } from './turn-result.js';

interface Call {
  readonly seq: number;
  readonly action: Action;
  readonly task: DurableTask<any>;
  /** pending: asked for by the code, not yet in history; open: in history, awaiting its result; done. */
  state: 'pending' | 'open' | 'done';
  /** A cancelled timer sends no message (if still pending) and its firing is dropped. */
  cancelled: boolean;
}

/** What arrives for the code: a step's result, or a raised event. */
const DELIVERY_EVENTS: ReadonlySet<HistoryEventType> = new Set<HistoryEventType>([
  ...STEP_CLOSING_EVENTS,
  'EventRaised',
]);

type Handlers = { [K in HistoryEventType]: (event: HistoryEventOf<K>) => void };

export class OrchestrationExecutor implements ContextHost {
  name = '';
  generation = 0;
  /** Which creation of the instance id this is ('' for instances created before incarnations existed). */
  incarnation = '';
  isReplaying = false;
  currentTime = 0;

  private status: RuntimeStatus = 'Pending';
  private started = false;
  private input: unknown;
  private output: unknown;
  private failure: FailureDetails | undefined;
  private customStatus: unknown;
  private parent: ParentRef | undefined;

  /** Events applied or recorded; the history itself lives in the store (the executor needs only its effects). */
  private eventCount = 0;
  /** Calls the code made since the last flush, in sequence order: flushing costs what the turn asked, not the history. */
  private pending: Call[] = [];
  private readonly calls = new Map<number, Call>();
  private nextSeq = 0;
  private readonly inbox = new EventInbox();
  private readonly locks = new EntityLocks();
  private startedAt = 0;
  /** Sequence numbers whose result has arrived (applied, or held while suspended): a second copy is dropped. */
  private readonly arrived = new Set<number>();
  /** Delivery events recorded while suspended; applied in order on resume. */
  private readonly held: HistoryEvent[] = [];
  private outcome: Outcome | undefined;
  private completionRecorded = false;
  private continueAsNewRequest: ContinueAsNewRequest | undefined;
  private needsDrain = false;
  private random32: () => number = () => 0;

  /** Events and messages of the step in progress (first run only). */
  private turn: { events: HistoryEvent[]; messages: Message[] } | undefined;

  private readonly handlers: Handlers = {
    ExecutionStarted: (e) => this.onStarted(e),
    TaskScheduled: (e) => this.confirm(e, e.seq),
    SubOrchestrationCreated: (e) => this.confirm(e, e.seq),
    TimerCreated: (e) => this.confirm(e, e.seq),
    EntityCalled: (e) => this.confirm(e, e.seq),
    EntitySignaled: (e) => this.confirm(e, e.seq),
    EntityLockRequested: (e) => this.confirm(e, e.seq),
    EntityResponded: (e) =>
      this.settle(e, e.seq, 'entity-call', (call) => {
        if (e.failure === undefined) return call.task.resolve(e.result);
        const entity = call.action.kind === 'entity-call' ? call.action.entityId : '';
        call.task.reject(new EntityOperationFailedError(entity, nameOf(call.action), e.failure));
      }),
    EntityLockGranted: (e) =>
      this.settle(e, e.seq, 'entity-lock', (call) => {
        if (call.action.kind !== 'entity-lock') return;
        const section = this.enterCriticalSection(call.action.lockId, call.action.entities);
        call.task.resolve(section);
      }),
    TaskCompleted: (e) => this.settle(e, e.seq, 'activity', (call) => call.task.resolve(e.result)),
    TaskFailed: (e) =>
      this.settle(e, e.seq, 'activity', (call) =>
        call.task.reject(new ActivityFailedError(nameOf(call.action), e.failure)),
      ),
    SubOrchestrationCompleted: (e) => this.settle(e, e.seq, 'sub', (call) => call.task.resolve(e.result)),
    SubOrchestrationFailed: (e) =>
      this.settle(e, e.seq, 'sub', (call) => {
        const instanceId = call.action.kind === 'sub' ? call.action.instanceId : '';
        call.task.reject(new SubOrchestrationFailedError(nameOf(call.action), instanceId, e.failure));
      }),
    TimerFired: (e) => this.settle(e, e.seq, 'timer', (call) => call.task.resolve(undefined)),
    EventRaised: (e) => this.onEventRaised(e),
    ExecutionSuspended: () => {
      this.status = 'Suspended';
    },
    ExecutionResumed: () => {
      this.status = 'Running';
    },
    ExecutionTerminated: (e) => this.onTerminated(e),
    ExecutionCompleted: (e) => this.onCompleted(e),
  };

  constructor(
    readonly instanceId: string,
    private readonly app: App,
    private readonly options: ExecutorOptions = {},
  ) {}

  /** The number of events applied (this generation's history length). */
  get historyLength(): number {
    return this.eventCount;
  }

  get snapshot(): OrchestrationSnapshot {
    return {
      instanceId: this.instanceId,
      name: this.name,
      generation: this.generation,
      ...(this.incarnation ? { incarnation: this.incarnation } : {}),
      status: this.status,
      ...(this.input !== undefined ? { input: this.input } : {}),
      ...(this.output !== undefined ? { output: this.output } : {}),
      ...(this.failure !== undefined ? { failure: this.failure } : {}),
      ...(this.customStatus !== undefined ? { customStatus: this.customStatus } : {}),
      ...(this.parent !== undefined ? { parent: this.parent } : {}),
    };
  }

  /**
   * Replays committed history. Throws {@link NonDeterminismError} if the code no longer matches it; the
   * executor must then be discarded.
   */
  async load(history: readonly HistoryEvent[]): Promise<void> {
    this.isReplaying = true;
    try {
      for (const event of history) await this.process(event);
      const unconfirmed = this.pending.find((c) => c.state === 'pending');
      this.pending = [];
      if (unconfirmed) {
        throw new NonDeterminismError(
          this.instanceId,
          unconfirmed.seq,
          'the end of the history',
          describe(unconfirmed.action),
        );
      }
      if (this.outcome && !this.completionRecorded && this.status !== 'Terminated') {
        throw new NonDeterminismError(
          this.instanceId,
          this.nextSeq,
          'no completion',
          `a completion (${outcomeStatus(this.outcome)})`,
        );
      }
    } finally {
      this.isReplaying = false;
    }
  }

  /** Applies new messages at time `now` (epoch ms) and returns what the turn adds. */
  async step(messages: readonly OrchestrationMessage[], now: number): Promise<StepResult> {
    const turn = { events: [] as HistoryEvent[], messages: [] as Message[] };
    const deferred: OrchestrationMessage[] = [];
    const dropped: OrchestrationMessage[] = [];
    this.turn = turn;
    this.isReplaying = false;
    try {
      // A start goes first whatever the delivery order: everything else needs a running instance.
      const ordered = [...messages].sort((a, b) => rank(a) - rank(b));
      for (const message of ordered) {
        const verdict = this.classify(message);
        if (verdict === 'defer') deferred.push(message);
        else if (verdict === 'drop') dropped.push(message);
        else await this.processNew(messageToEvent(message, now));
      }
    } finally {
      this.turn = undefined;
    }
    return { newEvents: turn.events, messages: turn.messages, deferred, dropped, snapshot: this.snapshot };
  }

  // ---- message intake ---------------------------------------------------------------------------

  private classify(message: OrchestrationMessage): 'accept' | 'defer' | 'drop' {
    const body = message.body;
    if (body.type === 'ExecutionStarted') {
      if (!this.started) return 'accept';
      if (body.parent && !sameParent(body.parent, this.parent)) this.rejectForeignStart(message, body.parent);
      return 'drop';
    }
    if (!this.started) return 'defer';
    const between = this.status === 'ContinuedAsNew';
    switch (body.type) {
      case 'EventRaised':
        if (this.inbox.hasSeen(message.id)) return 'drop';
        return between ? 'defer' : isTerminal(this.status) ? 'drop' : 'accept';
      case 'Suspend':
        return between ? 'defer' : this.status === 'Running' ? 'accept' : 'drop';
      case 'Resume':
        return between ? 'defer' : this.status === 'Suspended' ? 'accept' : 'drop';
      case 'Terminate':
        return between ? 'defer' : isTerminal(this.status) ? 'drop' : 'accept';
      default: {
        if (body.generation !== this.generation || isTerminal(this.status) || between) return 'drop';
        const call = this.calls.get(body.seq);
        const kind = REPLY_KINDS[body.type];
        const open = call && call.state === 'open' && !call.cancelled && !this.arrived.has(body.seq);
        return open && call.action.kind === kind ? 'accept' : 'drop';
      }
    }
  }

  /** First run: record the event, apply it, drain, then record what the code asked for. */
  private async processNew(event: HistoryEvent): Promise<void> {
    this.record(event);
    await this.process(event);
    this.flush();
  }

  private record(event: HistoryEvent): void {
    this.turn?.events.push(event);
  }

  // ---- applying events (first run and replay) -----------------------------------------------------

  private async process(event: HistoryEvent): Promise<void> {
    this.eventCount++;
    this.currentTime = event.at;
    // Arrival is noted when the event is recorded, even if it is held: a duplicate must be dropped either way.
    if (event.type === 'EventRaised') this.inbox.noteArrival(event);
    else if (DELIVERY_EVENTS.has(event.type) && 'seq' in event) this.arrived.add(event.seq);
    if (this.status === 'Suspended' && DELIVERY_EVENTS.has(event.type)) {
      this.held.push(event);
      return;
    }
    // Orchestration code runs only between applying an event and the end of its drain: the durable-aware
    // Promise.race/any are in place for exactly that span, and the rest of the process keeps the native ones.
    const release = holdRaceCancellation();
    try {
      (this.handlers[event.type] as (e: HistoryEvent) => void)(event);
      await this.drain();
      if (event.type === 'ExecutionResumed') {
        for (const held of this.held.splice(0)) {
          this.currentTime = held.at;
          (this.handlers[held.type] as (e: HistoryEvent) => void)(held);
          await this.drain();
        }
        this.currentTime = event.at;
      }
    } finally {
      release();
    }
  }

  private async drain(): Promise<void> {
    while (this.needsDrain) {
      this.needsDrain = false;
      // One macrotask: every queued microtask (all reactions of the tasks just settled) runs first.
      await (this.options.yieldToEventLoop ?? yieldToEventLoop)();
    }
  }

  private onStarted(e: HistoryEventOf<'ExecutionStarted'>): void {
    if (this.started) throw new NonDeterminismError(this.instanceId, 0, 'one ExecutionStarted', 'a second one');
    this.started = true;
    this.name = e.name;
    this.generation = e.generation;
    this.incarnation = e.incarnation ?? '';
    this.startedAt = e.at;
    this.input = e.input;
    this.parent = e.parent;
    this.status = 'Running';
    this.random32 = seededUint32(`${this.instanceId}/${e.generation}`);
    // Events carried over by continue-as-new are waiting before the code starts, in their original order.
    this.inbox.rememberSeen(e.seenEventIds ?? []);
    this.inbox.carryIn(e.carriedEvents ?? []);
    const fn = this.app.orchestrations[e.name];
    if (!fn) {
      this.outcome = {
        ok: false,
        error: Object.assign(new Error(`No orchestration named '${e.name}' is registered on this worker.`), {
          name: 'UnknownOrchestrationError',
          code: 'UNKNOWN_ORCHESTRATION',
        }),
      };
      return;
    }
    const ctx = createContext(this);
    this.needsDrain = true;
    // The code starts synchronously here, up to its first await; its outcome is taken during the drain.
    void new Promise<unknown>((resolve) => resolve(fn(ctx, e.input))).then(
      (value) => this.setOutcome({ ok: true, value }),
      (error: unknown) => this.setOutcome({ ok: false, error }),
    );
  }

  private setOutcome(outcome: Outcome): void {
    if (this.status === 'Terminated' || this.outcome) return;
    // A continueAsNew swallowed by a broad `catch` in user code still ends the execution as asked.
    if (this.continueAsNewRequest) outcome = { continueAsNew: this.continueAsNewRequest };
    else if ('error' in outcome && outcome.error instanceof ContinueAsNewSignal)
      outcome = { continueAsNew: outcome.error.request };
    // An output JSON cannot carry fails this instance here, on the first run and on every replay alike, instead
    // of failing the store write of every turn committed with it.
    if ('ok' in outcome && outcome.ok) {
      try {
        requireJson(outcome.value, 'output', `The output of orchestration '${this.name}'`);
      } catch (error) {
        outcome = { ok: false, error };
      }
    }
    this.outcome = outcome;
  }

  /** Replay: the history says the code asked for `seq`; check that it did, and that it asked for the same thing. */
  private confirm(event: HistoryEvent, seq: number): void {
    const call = this.calls.get(seq);
    if (!call || call.state !== 'pending' || !matches(call.action, event)) {
      throw new NonDeterminismError(
        this.instanceId,
        seq,
        describeEvent(event),
        call ? describe(call.action) : 'nothing',
      );
    }
    this.markScheduled(call);
  }

  /** A call now in history: open until its result arrives (a signal expects none: done at once). */
  private markScheduled(call: Call): void {
    call.state = call.action.kind === 'entity-signal' ? 'done' : 'open';
    if (call.state === 'done') this.calls.delete(call.seq);
  }

  private settle(event: HistoryEvent, seq: number, kind: Action['kind'], apply: (call: Call) => void): void {
    const call = this.calls.get(seq);
    if (!call || call.state !== 'open' || call.action.kind !== kind) {
      // Only reachable on replay: the first run accepts completions for open calls only.
      throw new NonDeterminismError(
        this.instanceId,
        seq,
        describeEvent(event),
        call ? describe(call.action) : 'no such call',
      );
    }
    call.state = 'done';
    // Done calls are forgotten: a late copy of their result finds no open call and is dropped.
    this.calls.delete(seq);
    if (call.cancelled) return;
    if (call.task.hasSubscribers) this.needsDrain = true;
    apply(call);
  }

  private onEventRaised(e: HistoryEventOf<'EventRaised'>): void {
    if (this.inbox.deliver(e)) this.needsDrain = true;
  }

  private onTerminated(e: HistoryEventOf<'ExecutionTerminated'>): void {
    this.status = 'Terminated';
    this.failure = { name: 'Terminated', message: e.reason ?? 'Terminated', code: 'TERMINATED' };
    for (const call of this.calls.values()) if (call.state === 'pending') call.state = 'done';
    this.releaseLocks();
    if (this.turn && this.parent)
      this.turn.messages.push(replyToParent(this.parent, { ok: false, failure: this.failure }));
  }

  /** Replay only: the first run records completions itself, in `flush`. */
  private onCompleted(e: HistoryEventOf<'ExecutionCompleted'>): void {
    if (!this.outcome || outcomeStatus(this.outcome) !== e.status) {
      throw new NonDeterminismError(
        this.instanceId,
        this.nextSeq,
        `ExecutionCompleted(${e.status})`,
        this.outcome ? `a completion (${outcomeStatus(this.outcome)})` : 'no completion yet',
      );
    }
    this.completionRecorded = true;
    this.applyOutcome(this.outcome);
    // The history is the record: a replayed failure keeps the details first committed (a rerun's stack
    // trace depends on how the event loop happened to schedule it), and a replayed result is the one stored.
    if (e.status === 'Failed' && e.failure !== undefined) this.failure = e.failure;
    if (e.status === 'Completed') this.output = e.result;
  }

  private applyOutcome(outcome: Outcome): void {
    // However the execution ends, its critical section ends with it.
    this.releaseLocks();
    if ('continueAsNew' in outcome) {
      this.status = 'ContinuedAsNew';
      this.output = undefined;
    } else if (outcome.ok) {
      this.status = 'Completed';
      this.output = outcome.value;
    } else {
      this.status = 'Failed';
      this.failure = toFailureDetails(outcome.error);
    }
  }

  // ---- first run: turning the code's requests into events and messages ----------------------------

  /** Records, in sequence order, what the code asked for since the last event, then its completion. */
  private flush(): void {
    const turn = this.turn;
    if (!turn || this.status === 'Terminated') return;
    for (const call of this.pending.splice(0)) {
      if (call.state !== 'pending') continue;
      this.markScheduled(call);
      this.pushEvent(scheduledEvent(call.seq, call.action, this.currentTime));
      // A timer cancelled before it was recorded still takes its place in history (replay creates it too),
      // but nothing is sent: it can never wake the instance.
      if (!call.cancelled) turn.messages.push(actionMessage(this, call.seq, call.action));
    }
    if (this.outcome && !this.completionRecorded) this.recordCompletion(this.outcome);
  }

  private pushEvent(event: HistoryEvent): void {
    this.turn?.events.push(event);
    this.eventCount++;
  }

  private recordCompletion(outcome: Outcome): void {
    const turn = this.turn;
    if (!turn) return;
    this.completionRecorded = true;
    this.applyOutcome(outcome);
    const at = this.currentTime;
    if ('continueAsNew' in outcome) {
      this.pushEvent(events.executionCompleted({ status: 'ContinuedAsNew' }, at));
      const carried = outcome.continueAsNew.keepUnprocessedEvents ? this.inbox.takeAll() : [];
      const { input } = outcome.continueAsNew;
      turn.messages.push(
        startMessage(
          this.instanceId,
          this.name,
          input,
          this.generation + 1,
          this.parent,
          carried,
          this.incarnation,
          this.inbox.recentIds(),
        ),
      );
      return;
    }
    if (outcome.ok) this.pushEvent(events.executionCompleted({ status: 'Completed', result: outcome.value }, at));
    else this.pushEvent(events.executionCompleted({ status: 'Failed', failure: this.failure }, at));
    if (this.parent) {
      const reply = outcome.ok
        ? { ok: true as const, result: outcome.value }
        : { ok: false as const, failure: this.failure as FailureDetails };
      turn.messages.push(replyToParent(this.parent, reply));
    }
  }

  /** A second parent tried to start a child id that is taken: tell it, instead of leaving it waiting forever. */
  private rejectForeignStart(message: OrchestrationMessage, parent: ParentRef): void {
    this.turn?.messages.push(instanceExists(message.instanceId, parent));
  }

  // ---- ContextHost: what the code can ask for -----------------------------------------------------

  hasActivity(name: string): boolean {
    return Object.hasOwn(this.app.activities, name);
  }

  hasOrchestration(name: string): boolean {
    return Object.hasOwn(this.app.orchestrations, name);
  }

  scheduleActivity(name: string, input: unknown, attempt: number, key: string | undefined) {
    const seq = this.nextSeq;
    const idempotencyKey = key ?? `${this.instanceId}/${this.generation}/${seq}`;
    const task = this.addCall({ kind: 'activity', name, input, attempt, key: idempotencyKey });
    return { task, idempotencyKey };
  }

  scheduleSubOrchestration(
    name: string,
    input: unknown,
    instanceId: string | undefined,
    attempt: number,
  ): DurableTask<unknown> {
    this.locks.checkSubOrchestration();
    // A default id names this execution (generation), not just this instance id: see child-id.ts.
    const childId =
      instanceId === undefined
        ? defaultChildId(this.instanceId, this.generation, this.nextSeq, attempt)
        : `${instanceId}${attempt > 1 ? `#${attempt}` : ''}`;
    return this.addCall({ kind: 'sub', name, input, instanceId: childId });
  }

  scheduleTimer(fireAt: number, purpose: TimerPurpose): DurableTask<void> {
    return this.addCall({ kind: 'timer', fireAt, purpose }, (seq) => this.cancelTimer(seq));
  }

  waitForEvent(name: string, timeoutAt: number | undefined): DurableTask<unknown> {
    // An event already here needs no timeout timer.
    if (timeoutAt === undefined || this.inbox.hasBuffered(name)) return this.inbox.wait(name, () => undefined);
    const timeoutMs = Math.max(0, timeoutAt - this.currentTime);
    const timeoutSeq = this.nextSeq;
    const timer = this.scheduleTimer(timeoutAt, 'event-timeout');
    const task = this.inbox.wait(name, () => this.cancelTimer(timeoutSeq));
    void timer.then(
      () => this.inbox.expire(task, new EventTimeoutError(name, timeoutMs)),
      () => undefined,
    );
    return task;
  }

  setCustomStatus(value: unknown): void {
    this.customStatus = value;
  }

  continueAsNew(input: unknown, options: { keepUnprocessedEvents?: boolean }): never {
    const request = { input, keepUnprocessedEvents: options.keepUnprocessedEvents ?? false };
    this.continueAsNewRequest ??= request;
    throw new ContinueAsNewSignal(request);
  }

  log(level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    if (this.isReplaying || !this.options.logSink) return;
    this.options.logSink({
      level,
      message,
      ...(fields ? { fields } : {}),
      instanceId: this.instanceId,
      name: this.name,
    });
  }

  random(): number {
    return this.random32() / 0x1_0000_0000;
  }

  newGuid(): string {
    return uuidFrom(this.random32);
  }

  // ---- entities ---------------------------------------------------------------------------------

  hasEntity(name: string): boolean {
    return Object.hasOwn(this.app.entities ?? {}, name);
  }

  scheduleEntityCall(entityId: string, operation: string, input: unknown): DurableTask<unknown> {
    const lockId = this.locks.lockIdForCall(entityId);
    const n = this.locks.nextNumber(entityId);
    return this.addCall({ kind: 'entity-call', entityId, operation, input, n, ...(lockId ? { lockId } : {}) });
  }

  scheduleEntitySignal(entityId: string, operation: string, input: unknown, deliverAt: number | undefined): void {
    this.locks.checkSignal(entityId);
    // A scheduled signal is unordered: numbering it would hold back everything sent after it until it is due.
    const order = deliverAt === undefined ? { n: this.locks.nextNumber(entityId) } : { deliverAt };
    void this.addCall({ kind: 'entity-signal', entityId, operation, input, ...order });
  }

  requestLock(entityIds: readonly string[]): DurableTask<CriticalSection> {
    // The start time makes the id unique even if a purged instance id is used again.
    const lockId = `${this.instanceId}/${this.generation}/${this.startedAt}/lock/${this.nextSeq}`;
    const { entities } = this.locks.request(lockId, entityIds);
    return this.addCall({ kind: 'entity-lock', lockId, entities, n: this.locks.nextNumber(entities[0] as string) });
  }

  get inCriticalSection(): boolean {
    return this.locks.inSection;
  }

  private enterCriticalSection(lockId: string, entities: readonly string[]): CriticalSection {
    this.locks.granted({ lockId, entities });
    return {
      entities,
      release: () => {
        if (this.locks.isHeld(lockId)) this.releaseLocks();
      },
    };
  }

  /**
   * Ends the critical section (or abandons a lock still being acquired): every entity gets an unlock. An
   * entity that receives the unlock before the lock request itself remembers it and never takes that lock.
   */
  private releaseLocks(): void {
    const section = this.locks.release();
    if (!section) return;
    for (const entity of section.entities) {
      const n = this.locks.nextNumber(entity);
      this.turn?.messages.push(unlockMessage(this, section.lockId, entity, n));
    }
  }

  private addCall<T>(action: Action, onCancel?: (seq: number) => void): DurableTask<T> {
    const seq = this.nextSeq++;
    const task = new DurableTask<T>(onCancel ? { onCancel: () => onCancel(seq) } : {});
    const call: Call = { seq, action, task, state: 'pending', cancelled: false };
    this.calls.set(seq, call);
    this.pending.push(call);
    return task;
  }

  private cancelTimer(seq: number): void {
    const call = this.calls.get(seq);
    if (call && call.state !== 'done') call.cancelled = true;
  }
}

/**
 * Pure form of the engine: replays `history`, applies `messages` at `now`, and returns what the turn adds.
 * @example
 * const result = await executeOrchestration('order-1', [], [startMessage], app, Date.UTC(2026, 0, 1));
 * result.newEvents; // [ExecutionStarted, TaskScheduled, …]
 */
export async function executeOrchestration(
  instanceId: string,
  history: readonly HistoryEvent[],
  messages: readonly OrchestrationMessage[],
  app: App,
  now: number,
  options?: ExecutorOptions,
): Promise<StepResult> {
  const executor = new OrchestrationExecutor(instanceId, app, options);
  await executor.load(history);
  return executor.step(messages, now);
}

function rank(message: OrchestrationMessage): number {
  return message.body.type === 'ExecutionStarted' ? 0 : 1;
}

function sameParent(a: ParentRef, b: ParentRef | undefined): boolean {
  return (
    b !== undefined &&
    a.instanceId === b.instanceId &&
    a.generation === b.generation &&
    a.seq === b.seq &&
    a.incarnation === b.incarnation
  );
}
