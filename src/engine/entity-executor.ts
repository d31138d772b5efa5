/**
 * The entity engine: an entity's stored data + a batch of its messages + the registered entities → new data
 * and the messages to send. Pure: the runtime loads the data, calls this, and commits the result with one
 * compare-and-set, exactly like an orchestration turn.
 *
 * Invariants:
 * - Operations run one at a time, in batch order, each against the state the previous one left.
 * - Messages from one durable sender (an orchestration generation, another entity) carry consecutive numbers
 *   per target: they are applied in that order (early ones wait in `early`) and a repeat is dropped. Unnumbered
 *   messages (client signals, scheduled signals) are deduplicated by message id within `dedupeWindowMs`.
 * - A failed operation changes nothing but `lastFailure`: state, signals and orchestration starts are rolled back,
 *   and the error goes to the caller (a call) or only into `lastFailure` and the result's `failures` (a signal).
 * - While a critical section holds the entity, only the holder's calls (carrying its lock id) run; everything
 *   else is kept in `queue`, in arrival order, and runs after the unlock.
 */
import { startMessage, entityMessage } from './actions.js';
import type { App } from './app.js';
import { seededUint32, uuidFrom } from './deterministic-random.js';
import type { EntityContext, EntitySignalProxy } from './entity.js';
import { entityId as makeEntityId, initialState, operationProxy, parseEntityId, resolveOperation } from './entity.js';
import type { FailureDetails } from './errors.js';
import { toFailureDetails, ValidationError } from './errors.js';
import { requireJson } from './json-value.js';
import type { EntityMessage, Message, OrchestrationMessage, ReplyTo } from './messages.js';
import { messageId, parseOrchestrationSenderId, PRIORITY } from './messages.js';

/** An operation that threw (or named no operation): what the entity remembers, and what the runtime logs. */
export interface EntityOperationFailure {
  readonly operation: string;
  /** The error's name, message and code (no stack: it is stored with the entity). */
  readonly failure: FailureDetails;
  /** Epoch ms of the turn that ran it. */
  readonly at: number;
  /** Who sent it: an orchestration instance id, an entity id, or `client`. */
  readonly from: string;
  /** True for a one-way signal (nobody else was told), false for a call (the caller got the error). */
  readonly signal: boolean;
}

/** An entity as stored (JSON). */
export interface EntityData {
  /** Whether the entity has state (an operation created it and none deleted it since). */
  readonly exists: boolean;
  readonly state?: unknown;
  /** The critical section holding the entity, if any. */
  readonly lock?: { readonly lockId: string; readonly holder: ReplyTo };
  /** Accepted messages waiting for the lock to be released, in arrival order. */
  readonly queue: readonly EntityMessage[];
  /** Numbered messages that arrived before their predecessors. */
  readonly early: readonly EntityMessage[];
  /** Per durable sender: the number of the last message applied, and when. */
  readonly senders: Readonly<Record<string, { readonly n: number; readonly at: number }>>;
  /** Ids of unnumbered messages applied within the deduplication window, with the time. */
  readonly recent: Readonly<Record<string, number>>;
  /** Unlocks that arrived before their lock request (the section was abandoned), with the time. */
  readonly released: Readonly<Record<string, number>>;
  /** Numbers of the messages this entity has sent, per target entity. */
  readonly sent: Readonly<Record<string, number>>;
  /** Operations applied, ever (also seeds deterministic ids). */
  readonly operations: number;
  /** Epoch ms of the last operation that ran. */
  readonly lastModified?: number;
  /** The most recent operation that failed; kept until another fails (a later success does not clear it). */
  readonly lastFailure?: EntityOperationFailure;
}

export const EMPTY_ENTITY: EntityData = {
  exists: false,
  queue: [],
  early: [],
  senders: {},
  recent: {},
  released: {},
  sent: {},
  operations: 0,
};

export interface EntityStepResult {
  readonly data: EntityData;
  /** The outbox: responses, signals, forwarded lock requests, orchestration starts. */
  readonly messages: Message[];
  /** Repeats, dropped without effect. */
  readonly dropped: EntityMessage[];
  /** Whether `data` differs from the input (false: nothing to commit). */
  readonly changed: boolean;
  /** The operations of this batch that failed, in the order they ran. */
  readonly failures: readonly EntityOperationFailure[];
}

export interface EntityExecutorOptions {
  /** How long ids of unnumbered messages are remembered to drop repeats (default 24 h). */
  readonly dedupeWindowMs?: number;
}

type Mutable<T> = {
  -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] extends object ? Mutable<T[K]> : T[K];
};
type Working = Mutable<EntityData>;

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * Applies a batch of messages to one entity.
 * @example
 * const { data, messages } = await executeEntityBatch('counter@k', app, EMPTY_ENTITY, batch, Date.now());
 */
export async function executeEntityBatch(
  entityId: string,
  app: App,
  stored: EntityData | undefined,
  batch: readonly EntityMessage[],
  now: number,
  options: EntityExecutorOptions = {},
): Promise<EntityStepResult> {
  const before = JSON.stringify(stored ?? EMPTY_ENTITY);
  const run = new EntityRun(entityId, app, JSON.parse(before) as Working, now);
  for (const message of batch) await run.admit(message);
  run.prune(options.dedupeWindowMs ?? 24 * 3600_000);
  const data = run.data;
  return {
    data,
    messages: run.outbox,
    dropped: run.dropped,
    changed: JSON.stringify(data) !== before,
    failures: run.failures,
  };
}

class EntityRun {
  readonly outbox: Message[] = [];
  readonly dropped: EntityMessage[] = [];
  readonly failures: EntityOperationFailure[] = [];
  private readonly name: string;
  private readonly key: string;

  constructor(
    private readonly entityId: string,
    private readonly app: App,
    readonly data: Working,
    private readonly now: number,
  ) {
    const parsed = parseEntityId(entityId);
    this.name = parsed.name;
    this.key = parsed.key;
  }

  /** Ordering and deduplication, then delivery. */
  async admit(message: EntityMessage): Promise<void> {
    const { id: sender, n } = message.body.sender;
    if (n === undefined) {
      if (this.data.recent[message.id] !== undefined) return void this.dropped.push(message);
      this.data.recent[message.id] = this.now;
      return this.deliver(message);
    }
    const last = this.data.senders[sender]?.n ?? 0;
    if (n <= last || this.data.early.some((m) => m.id === message.id)) return void this.dropped.push(message);
    if (n > last + 1) return void this.data.early.push(message);
    this.data.senders[sender] = { n, at: this.now };
    await this.deliver(message);
    // Its successors may have arrived first: apply every one that is now in order.
    for (;;) {
      const expected: number = (this.data.senders[sender]?.n ?? 0) + 1;
      const index = this.data.early.findIndex((m) => m.body.sender.id === sender && m.body.sender.n === expected);
      if (index < 0) break;
      const [next] = this.data.early.splice(index, 1);
      if (!next) break;
      this.data.senders[sender] = { n: expected, at: this.now };
      await this.deliver(next);
    }
  }

  prune(windowMs: number): void {
    const cutoff = this.now - windowMs;
    for (const [id, at] of Object.entries(this.data.recent)) if (at < cutoff) delete this.data.recent[id];
    for (const [id, at] of Object.entries(this.data.released)) if (at < cutoff) delete this.data.released[id];
  }

  private async deliver(message: EntityMessage): Promise<void> {
    const body = message.body;
    if (body.type === 'EntityUnlock') {
      if (this.data.lock?.lockId === body.lockId) {
        delete this.data.lock;
        await this.drainQueue();
      } else {
        this.data.released[body.lockId] = this.now;
      }
      return;
    }
    if (this.data.lock && !this.belongsToLock(message)) return void this.data.queue.push(message);
    await this.apply(message);
  }

  private belongsToLock(message: EntityMessage): boolean {
    return message.body.type === 'EntityOperation' && message.body.lockId === this.data.lock?.lockId;
  }

  private async drainQueue(): Promise<void> {
    while (this.data.queue.length > 0) {
      const next = this.data.queue[0] as EntityMessage;
      if (this.data.lock && !this.belongsToLock(next)) return;
      this.data.queue.shift();
      await this.apply(next);
    }
  }

  private async apply(message: EntityMessage): Promise<void> {
    const body = message.body;
    if (body.type === 'EntityLock') {
      if (this.data.released[body.lockId] !== undefined) {
        // The holder gave up (it ended) before its request reached us: never take this lock.
        delete this.data.released[body.lockId];
        return;
      }
      this.data.lock = { lockId: body.lockId, holder: body.holder };
      const next = body.entities[body.index + 1];
      if (next === undefined) {
        this.outbox.push(
          reply(body.holder, { type: 'EntityLockGranted', generation: body.holder.generation, seq: body.holder.seq }),
        );
      } else {
        this.outbox.push(
          entityMessage(`${body.lockId}/lock/${body.index + 1}`, next, {
            ...body,
            index: body.index + 1,
            sender: { id: this.entityId, n: this.nextNumber(next) },
          }),
        );
      }
      return;
    }
    if (body.type === 'EntityOperation') await this.runOperation(body);
  }

  private async runOperation(body: Extract<EntityMessage['body'], { type: 'EntityOperation' }>): Promise<void> {
    const definition = this.app.entities[this.name];
    const operation = definition ? resolveOperation(definition, body.operation) : undefined;
    if (!definition || !operation) {
      const failure: FailureDetails = definition
        ? {
            name: 'UnknownOperationError',
            code: 'UNKNOWN_OPERATION',
            message: `Entity '${this.name}' has no operation '${body.operation}'.`,
          }
        : {
            name: 'UnknownEntityError',
            code: 'UNKNOWN_ENTITY',
            message: `No entity named '${this.name}' is registered on this worker.`,
          };
      this.fail(body, failure);
      return;
    }
    const saved = { exists: this.data.exists, state: clone(this.data.state), sent: { ...this.data.sent } };
    const outgoing: Message[] = [];
    if (!this.data.exists) {
      this.data.state = clone(initialState(definition));
      this.data.exists = true;
    }
    const opIndex = this.data.operations;
    try {
      const result = clone(await operation(this.context(body.operation, outgoing, opIndex), body.input));
      this.data.state = clone(this.data.state); // must be JSON: fail the operation now rather than the commit
      // Only now, with state and result known to be storable, do the operation's effects leave.
      this.outbox.push(...outgoing);
      this.respond(body.replyTo, { result });
    } catch (error) {
      this.data.exists = saved.exists;
      this.data.state = saved.state;
      this.data.sent = saved.sent;
      if (!saved.exists) delete this.data.state;
      this.fail(body, toFailureDetails(error));
    }
    this.data.operations = opIndex + 1;
    this.data.lastModified = this.now;
  }

  /** Reports a failed operation to its caller (if it has one) and records it on the entity. */
  private fail(body: Extract<EntityMessage['body'], { type: 'EntityOperation' }>, failure: FailureDetails): void {
    const { stack: _stack, cause: _cause, ...rest } = failure;
    // Stored with the entity on every later turn: a bounded message, not whatever the error carried.
    const brief = { ...rest, message: rest.message.length > 1000 ? `${rest.message.slice(0, 1000)}…` : rest.message };
    const from = body.replyTo?.instanceId ?? parseOrchestrationSenderId(body.sender.id)?.instanceId ?? body.sender.id;
    const recorded: EntityOperationFailure = {
      operation: body.operation,
      failure: brief,
      at: this.now,
      from,
      signal: body.replyTo === undefined,
    };
    this.data.lastFailure = recorded;
    this.failures.push(recorded);
    this.respond(body.replyTo, { failure });
  }

  private respond(replyTo: ReplyTo | undefined, outcome: { result?: unknown; failure?: FailureDetails }): void {
    if (!replyTo) return; // a signal: nobody waits for the result (a failure is in `lastFailure`)
    const body =
      outcome.failure !== undefined
        ? { failure: outcome.failure }
        : outcome.result !== undefined
          ? { result: outcome.result }
          : {};
    this.outbox.push(
      reply(replyTo, { type: 'EntityResponse', generation: replyTo.generation, seq: replyTo.seq, ...body }),
    );
  }

  private context(operation: string, outgoing: Message[], opIndex: number): EntityContext {
    const data = this.data;
    const now = this.now;
    let sends = 0;
    const signal = (target: string, op: string, input: unknown, at: Date | number | undefined): void => {
      const { id } = parseEntityId(target);
      if (typeof op !== 'string' || op.length === 0) throw new ValidationError('signalEntity needs an operation name.');
      requireJson(input, 'input', `The input of signalEntity('${id}', '${op}')`);
      const deliverAt = at === undefined ? undefined : at instanceof Date ? at.getTime() : now + at;
      if (deliverAt !== undefined && !Number.isFinite(deliverAt)) {
        throw new ValidationError(`signalEntity: 'at' must be a valid Date or a delay in ms, got ${String(at)}.`);
      }
      const message = entityMessage(`${this.entityId}/${opIndex}/signal/${sends++}`, id, {
        type: 'EntityOperation',
        operation: op,
        input,
        // Scheduled signals are unordered; immediate ones are numbered per target.
        sender: deliverAt === undefined ? { id: this.entityId, n: this.nextNumber(id) } : { id: this.entityId },
      });
      outgoing.push(deliverAt === undefined ? message : { ...message, deliverAt });
    };
    return {
      id: this.entityId as EntityContext['id'],
      name: this.name,
      key: this.key,
      operation,
      get state() {
        return data.state;
      },
      get hasState() {
        return data.exists;
      },
      setState(state: unknown) {
        data.exists = true;
        data.state = state;
      },
      deleteState() {
        data.exists = false;
        delete data.state;
      },
      signalEntity: (target, op, input, options) => signal(target, op, input, options?.at),
      startOrchestration: (name, input, options) => {
        if (!Object.hasOwn(this.app.orchestrations, name)) {
          throw new ValidationError(`Unknown orchestration '${name}'.`, { name }, 'UNKNOWN_ORCHESTRATION');
        }
        requireJson(input, 'input', `The input of startOrchestration('${name}')`);
        const start = `${this.entityId}/${opIndex}/start/${sends++}`;
        const instanceId = options?.instanceId ?? uuidFrom(seededUint32(start));
        // A new creation of that id: its own incarnation (pure, from the same seed as the id).
        const incarnation = uuidFrom(seededUint32(`${start}/incarnation`));
        outgoing.push(startMessage(instanceId, name, input, 0, undefined, undefined, incarnation));
        return instanceId;
      },
      entity: <T>(name: string, key: string) =>
        operationProxy<EntitySignalProxy<T>>((op, input) => signal(makeEntityId(name, key), op, input, undefined)),
      now: () => new Date(now),
      callEntity: (): never => {
        throw new ValidationError(
          'Entities cannot call entities (a call waits for a response, and an entity must not wait while it holds its turn). Use ctx.signalEntity, or call from an orchestration.',
          { operation },
          'NOT_ALLOWED',
        );
      },
    };
  }

  private nextNumber(target: string): number {
    const n = (this.data.sent[target] ?? 0) + 1;
    this.data.sent[target] = n;
    return n;
  }
}

function reply(to: ReplyTo, body: OrchestrationMessage['body']): OrchestrationMessage {
  return {
    id: messageId(to.instanceId, to.generation, 'entity-result', to.seq),
    queue: 'orchestrations',
    instanceId: to.instanceId,
    ...(to.incarnation ? { incarnation: to.incarnation } : {}),
    body,
    priority: PRIORITY.reply,
  };
}
