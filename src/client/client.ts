/**
 * The client: how applications, the HTTP API and the CLI talk to instances.
 *
 * The client writes the store only to create (or restart) an instance record; everything else it asks of an
 * instance (events, terminate, suspend, resume) travels as a message and is applied by the instance's own turn,
 * so it is ordered with the instance's other work and recorded in its history. Bad arguments throw a
 * {@link DurableError} with a stable code and change nothing.
 */
import { randomUUID } from 'node:crypto';
import type { FailureDetails } from '../engine/errors.js';
import { DurableError, TimeoutError, ValidationError } from '../engine/errors.js';
import type { HistoryEvent } from '../engine/history.js';
import type { Message, OrchestrationMessageBody, QueueName } from '../engine/messages.js';
import { PRIORITY, QUEUE_NAMES } from '../engine/messages.js';
import type { RuntimeStatus } from '../engine/status.js';
import { isTerminal, RUNTIME_STATUSES } from '../engine/status.js';
import type { Clock } from '../backends/clock.js';
import type { Queue } from '../backends/queue.js';
import type { CountQuery, InstanceRecord, StatusCounts, Store } from '../backends/store.js';
import { loadHistory } from '../backends/store.js';
import type { EventDeclarations } from '../engine/app.js';
import type { EntitySignalProxy } from '../engine/entity.js';
import type { CleanEntityStorageResult, EntityState, ListEntitiesOptions } from './entity-client.js';
import { EntityClient } from './entity-client.js';
import type { ReusePolicy } from './start-batcher.js';
import { StartBatcher } from './start-batcher.js';
import { waitingFor } from './waiting-for.js';

/**
 * What `start` does when the instance id is already taken:
 * - `'allow-terminal'` (default): restart it if it is Completed, Failed or Terminated; refuse if it is live.
 * - `'allow-failed'`: restart it only if it Failed or was Terminated.
 * - `'reject'`: never reuse an id.
 */
export type { ReusePolicy };

export const REUSE_POLICIES: readonly ReusePolicy[] = ['allow-terminal', 'allow-failed', 'reject'];

export interface StartOptions {
  /** Default: a random UUID. Letters, digits and `_ . : # ~ -`, at most 200 characters. */
  readonly instanceId?: string;
  readonly reuse?: ReusePolicy;
}

/** An instance as a client sees it. */
export interface InstanceStatus {
  readonly instanceId: string;
  readonly name: string;
  readonly status: RuntimeStatus;
  readonly generation: number;
  readonly input?: unknown;
  readonly output?: unknown;
  /** Why it failed (or was terminated): the original error's name, message and stack. */
  readonly error?: FailureDetails;
  readonly customStatus?: unknown;
  /** Why it cannot make progress right now (e.g. nondeterminism after a deployment), if so. */
  readonly stuck?: FailureDetails;
  readonly createdAt: Date;
  readonly lastUpdatedAt: Date;
  readonly historyLength: number;
  /** The orchestration that started this one as a sub-orchestration; `name` only with `getStatus(id, { details })`. */
  readonly parent?: { readonly instanceId: string; readonly name?: string };
  /**
   * What a Running or Suspended instance waits for, one line each (`durable status` prints them): only with
   * `getStatus(id, { details: true })`, which reads the history for it.
   */
  readonly waitingFor?: readonly string[];
}

export interface ListOptions {
  readonly status?: RuntimeStatus | readonly RuntimeStatus[];
  readonly name?: string;
  readonly createdFrom?: Date;
  readonly createdTo?: Date;
  readonly limit?: number;
  readonly cursor?: string;
  /** Only instances whose id starts with this (case-sensitive). */
  readonly idPrefix?: string;
  /** `true`: only stuck instances; `false`: only the others. */
  readonly stuck?: boolean;
}

/**
 * The filters of {@link DurableClient.countByStatus}: those of `list` but status and paging.
 * @example
 * const { byStatus, stuck, total } = await client.countByStatus({ name: 'order' });
 */
export type CountOptions = Omit<ListOptions, 'status' | 'limit' | 'cursor'>;

export interface ListResult {
  readonly items: InstanceStatus[];
  readonly nextCursor?: string;
}

export interface WaitOptions {
  /** Give up after this long (on the client's clock), with a `TimeoutError`. Default: wait forever. */
  readonly timeoutMs?: number;
}

/**
 * A message parked in a dead-letter queue (delivered too often without being processed), and why.
 * @example
 * for (const d of await client.listDeadLetters()) console.log(d.queue, d.messageId, d.instanceId, d.reason);
 */
export interface DeadLetterEntry {
  readonly queue: QueueName;
  readonly messageId: string;
  /** The orchestration or entity (`name@key`) the message is addressed to or comes from. */
  readonly instanceId: string;
  readonly reason: string;
  /** The message as it was sent. */
  readonly message: Message;
}

/**
 * A dead letter whose bytes are not a message (a job put on a Beanstalkd tube by hand, or a body whose claim is
 * gone): listed with `unreadable`, no message and no instance. Its `messageId` is the queue's id for it
 * (`job-<id>`), which `redriveDeadLetters` and `deleteDeadLetters` take like a message id.
 */
export interface UnreadableDeadLetterEntry {
  readonly queue: QueueName;
  readonly messageId: string;
  readonly reason: string;
  readonly unreadable: { readonly location: string; readonly base64: string };
}

/**
 * Which dead letters `redriveDeadLetters` puts back.
 * @example
 * await client.redriveDeadLetters({ queue: 'orchestrations', messageIds: ['order-1/event/approval-7'] });
 */
export interface RedriveOptions {
  /** Only this queue. Default: both. */
  readonly queue?: QueueName;
  /**
   * Only the dead letters with these message ids; ids that are not dead letters are ignored. Default: every dead
   * letter. When given it must list at least one id, so that "none" is never mistaken for "all".
   */
  readonly messageIds?: readonly string[];
}

/**
 * What `redriveDeadLetters` put back: one entry per queue it looked at (orchestrations first), with the ids of the
 * messages it made deliverable again, in dead-letter order (empty if none).
 * @example
 * const { redriven } = await client.redriveDeadLetters();
 * const count = redriven.reduce((n, r) => n + r.messageIds.length, 0);
 */
export interface RedriveResult {
  readonly redriven: ReadonlyArray<{ readonly queue: QueueName; readonly messageIds: readonly string[] }>;
}

/**
 * Which dead letters `deleteDeadLetters` removes: `messageIds`, or `all: true` (exactly one of the two).
 * @example
 * await client.deleteDeadLetters({ queue: 'activities', all: true });
 */
export interface DeleteDeadLettersOptions {
  /** Only this queue. Default: both. */
  readonly queue?: QueueName;
  readonly messageIds?: readonly string[];
  readonly all?: boolean;
}

/**
 * What `deleteDeadLetters` removed: one entry per queue it looked at (orchestrations first), in dead-letter order.
 * @example
 * const { deleted } = await client.deleteDeadLetters({ all: true });
 */
export interface DeleteDeadLettersResult {
  readonly deleted: ReadonlyArray<{ readonly queue: QueueName; readonly messageIds: readonly string[] }>;
}

export interface ClientOptions {
  readonly store: Store;
  readonly queue: Queue;
  readonly clock: Clock;
  /** Names that `start` accepts. Default: any name (a worker fails unknown ones). */
  readonly orchestrations?: readonly string[];
  /** Entity names `signalEntity` accepts. Default: any. */
  readonly entities?: readonly string[];
  /** The events each orchestration accepts (`app.events`); `raiseEvent` refuses others. Default: any. */
  readonly events?: EventDeclarations;
}

/** A changefeed wait is renewed at least this often (a fresh read each time), so no feed lives for ever. */
const MAX_FEED_WAIT_MS = 30_000;

/** How long `waitForCompletion` rides out a store that fails every read before it gives the error to its caller. */
const READ_OUTAGE_MS = 30_000;

const INSTANCE_ID = /^[A-Za-z0-9_.:#~-]{1,200}$/;

/**
 * @example
 * const client = new DurableClient({ store, queue, clock, orchestrations: Object.keys(app.orchestrations) });
 * const id = await client.start('helloSequence', ['Tokyo', 'London']);
 * const done = await client.waitForCompletion(id, { timeoutMs: 10_000 });
 * console.log(done.status, done.output);
 */
export class DurableClient {
  private readonly known: ReadonlySet<string> | undefined;
  private readonly entities: EntityClient;
  private readonly starts: StartBatcher;

  constructor(private readonly options: ClientOptions) {
    this.known = options.orchestrations ? new Set(options.orchestrations) : undefined;
    this.entities = new EntityClient(options);
    this.starts = new StartBatcher(options.store, options.queue, options.clock);
  }

  /**
   * Sends an operation to an entity (one-way); `at` delivers it later. With `signalId`, sending the same
   * signal twice delivers it once (within a day).
   * @example
   * await client.signalEntity('counter@visits', 'add', 1);
   */
  signalEntity(
    entityId: string,
    operation: string,
    input?: unknown,
    options?: { at?: Date; signalId?: string },
  ): Promise<void> {
    return this.entities.signalEntity(entityId, operation, input, options);
  }

  /** A typed signal proxy: `await client.entity<Counter>('counter', 'visits').add(1)`. */
  entity<T>(name: string, key: string): EntitySignalProxy<T, Promise<void>> {
    return this.entities.entity<T>(name, key);
  }

  /**
   * An entity's state, last-modified time and last failed operation, or `undefined` if it has no state (with
   * `includeDeleted`, an entity without state that has a record, say one whose only operation failed, is returned
   * with `hasState: false`).
   */
  readEntityState<S = unknown>(
    entityId: string,
    options?: { readonly includeDeleted?: boolean },
  ): Promise<EntityState<S> | undefined> {
    return this.entities.readEntityState<S>(entityId, options);
  }

  /** Entities with state, optionally of one name, paged. */
  listEntities(options?: ListEntitiesOptions): Promise<{ items: EntityState[]; nextCursor?: string }> {
    return this.entities.listEntities(options);
  }

  /** Removes empty entities and releases locks orphaned by ended or purged orchestrations. */
  cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    return this.entities.cleanEntityStorage();
  }

  /** Starts an orchestration and returns its instance id. */
  async start(name: string, input?: unknown, options: StartOptions = {}): Promise<string> {
    requireString(name, 'name');
    if (this.known && !this.known.has(name)) {
      throw new ValidationError(
        `Unknown orchestration '${name}'.`,
        { name, known: [...this.known] },
        'UNKNOWN_ORCHESTRATION',
      );
    }
    const instanceId = options.instanceId ?? randomUUID();
    validateInstanceId(instanceId);
    const reuse = options.reuse ?? 'allow-terminal';
    if (!REUSE_POLICIES.includes(reuse)) {
      throw new ValidationError(`reuse must be one of ${REUSE_POLICIES.join(', ')}.`, { reuse });
    }
    requireJson(input, 'input');

    await this.starts.submit({ instanceId, name, input, reuse });
    return instanceId;
  }

  /**
   * Starts an instance's orchestration again with its input (as `RestartAsync` does in Durable Functions): under
   * the same id, which must be finished (Completed, Failed or Terminated; `INVALID_STATE` otherwise), or with
   * `newInstanceId: true` under a new random id, at any time. The input is the record's, which is the current
   * generation's: after a continue-as-new that is the input it continued with (older generations' histories are
   * deleted, so the first input is no longer kept), as Durable Functions' status also reports it. Returns the id
   * of the started instance.
   * @example
   * const id = await client.restart('order-7', { newInstanceId: true });
   */
  async restart(instanceId: string, options: { readonly newInstanceId?: boolean } = {}): Promise<string> {
    const record = await this.require(instanceId);
    if (record.kind === 'entity') {
      throw new DurableError('INSTANCE_NOT_FOUND', `No orchestration instance ${instanceId} (it is an entity).`);
    }
    if (options.newInstanceId === true) return this.start(record.name, record.input, { reuse: 'reject' });
    if (!isTerminal(record.status)) {
      throw new DurableError(
        'INVALID_STATE',
        `Instance ${instanceId} is ${record.status}; only finished instances can be restarted under the same id (restart it with a new id, or terminate it first).`,
      );
    }
    return this.start(record.name, record.input, { instanceId, reuse: 'allow-terminal' });
  }

  /**
   * The instance's status, or `undefined` if there is no such instance. With `details`, also its parent's name (one
   * more record read, for a sub-orchestration) and, when it is Running or Suspended, what it waits for (one history
   * read: the cost grows with the history of the current generation).
   * @example
   * const s = await client.getStatus('order-7', { details: true });
   * for (const line of s?.waitingFor ?? []) console.log(line); // 'activity charge {"amount":10} (for 3.0s)'
   */
  async getStatus(
    instanceId: string,
    options: { readonly details?: boolean } = {},
  ): Promise<InstanceStatus | undefined> {
    validateInstanceId(instanceId);
    const record = await this.options.store.get(instanceId);
    if (!record) return undefined;
    const status = toStatus(record);
    if (options.details !== true) return status;
    const live = record.status === 'Running' || record.status === 'Suspended';
    const [parent, history] = await Promise.all([
      record.parent ? this.options.store.get(record.parent.instanceId) : undefined,
      live ? loadHistory(this.options.store, record) : undefined,
    ]);
    return {
      ...status,
      ...(record.parent
        ? { parent: { instanceId: record.parent.instanceId, ...(parent ? { name: parent.name } : {}) } }
        : {}),
      ...(history ? { waitingFor: waitingFor(history, this.options.clock.now()) } : {}),
    };
  }

  /**
   * Resolves with the final status once the instance is Completed, Failed or Terminated (a continue-as-new
   * is not an end). Throws `TimeoutError` after `timeoutMs`; the instance is not affected.
   */
  async waitForCompletion(instanceId: string, options: WaitOptions = {}): Promise<InstanceStatus> {
    const { clock, store } = this.options;
    const deadline = options.timeoutMs === undefined ? Infinity : clock.now() + options.timeoutMs;
    let pause = 2;
    let failingSince: number | undefined;
    for (;;) {
      let status: InstanceRecord;
      try {
        status = await this.require(instanceId);
        failingSince = undefined;
      } catch (error) {
        // A backend failure (a failover, a restart) is waited out for a while, as the workers wait it out; an
        // unknown instance or a bad id is not.
        failingSince ??= clock.now();
        if (error instanceof DurableError || clock.now() - failingSince >= READ_OUTAGE_MS) throw error;
        if (clock.now() >= deadline) throw error;
        await clock.sleep(Math.min(250, Math.max(1, deadline - clock.now())));
        continue;
      }
      if (isTerminal(status.status)) return toStatus(status);
      const left = deadline - clock.now();
      if (left <= 0) {
        throw new TimeoutError(
          `Instance ${instanceId} did not complete within ${options.timeoutMs} ms (it is ${status.status}).`,
        );
      }
      // A store with change notification wakes us on the next commit; a lost feed costs one short pause and a
      // fresh read. The others are polled, 2 ms doubling to 50 ms.
      const changed = store.waitForChange?.(instanceId, status.version, Math.min(left, MAX_FEED_WAIT_MS)).then(
        () => true,
        () => false,
      );
      if ((await changed) !== true) {
        await clock.sleep(Math.min(pause, left));
        pause = Math.min(pause * 2, 50);
      }
    }
  }

  /**
   * Sends an event to a live instance. With `eventId`, raising the same event twice delivers it once
   * (for webhooks that retry).
   */
  async raiseEvent(
    instanceId: string,
    eventName: string,
    data?: unknown,
    options: { eventId?: string } = {},
  ): Promise<void> {
    requireString(eventName, 'eventName');
    requireJson(data, 'data');
    if (options.eventId !== undefined) validateInstanceId(options.eventId, 'eventId');
    const accepts = (record: InstanceRecord): void => {
      const declared = this.options.events?.[record.name];
      if (declared === undefined || declared.includes(eventName)) return;
      throw new ValidationError(
        `Orchestration '${record.name}' does not accept the event '${eventName}'.`,
        { instanceId, name: record.name, event: eventName, accepts: [...declared] },
        'UNKNOWN_EVENT',
      );
    };
    const body = { type: 'EventRaised' as const, name: eventName, input: data };
    await this.send(instanceId, 'live', body, options.eventId, accepts);
  }

  /** Ends a live instance now, with a reason; its parent (if any) sees a failure. */
  async terminate(instanceId: string, reason?: string): Promise<void> {
    if (reason !== undefined) requireString(reason, 'reason');
    await this.send(instanceId, 'live', { type: 'Terminate', ...(reason !== undefined ? { reason } : {}) });
  }

  /** Pauses a running instance: results and events are recorded but its code does not run until `resume`. */
  async suspend(instanceId: string, reason?: string): Promise<void> {
    if (reason !== undefined) requireString(reason, 'reason');
    await this.send(instanceId, 'running', { type: 'Suspend', ...(reason !== undefined ? { reason } : {}) });
  }

  async resume(instanceId: string, reason?: string): Promise<void> {
    if (reason !== undefined) requireString(reason, 'reason');
    await this.send(instanceId, 'suspended', { type: 'Resume', ...(reason !== undefined ? { reason } : {}) });
  }

  /** Deletes a finished instance and its history. Live instances must be terminated first. */
  async purge(instanceId: string): Promise<void> {
    const record = await this.require(instanceId);
    if (!isTerminal(record.status)) {
      throw new DurableError(
        'INVALID_STATE',
        `Instance ${instanceId} is ${record.status}; only finished instances can be purged.`,
      );
    }
    if (!(await this.options.store.purge(instanceId, record.version))) {
      throw new DurableError('INVALID_STATE', `Instance ${instanceId} changed while purging; try again.`);
    }
  }

  /** Instances, newest first, filtered by status, name and creation time; page with `cursor`. */
  async list(options: ListOptions = {}): Promise<ListResult> {
    const statuses =
      options.status === undefined ? undefined : Array.isArray(options.status) ? options.status : [options.status];
    for (const s of statuses ?? []) {
      if (!RUNTIME_STATUSES.includes(s)) {
        throw new ValidationError(`Unknown status '${String(s)}'; expected one of ${RUNTIME_STATUSES.join(', ')}.`, {
          status: s,
        });
      }
    }
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('limit must be an integer from 1 to 1000.', { limit });
    }
    const page = await this.options.store.list({
      limit,
      ...(statuses ? { statuses } : {}),
      ...countQuery(options),
      ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
    });
    return { items: page.items.map(toStatus), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /**
   * How many instances match the filters, per status (every status present), how many of them are stuck, and the
   * total: what a dashboard shows beside a listing, in one store query.
   * @example
   * const { byStatus } = await client.countByStatus({ createdFrom: new Date(Date.now() - 86_400_000) });
   */
  async countByStatus(options: CountOptions = {}): Promise<StatusCounts> {
    return this.options.store.countByStatus(countQuery(options));
  }

  /**
   * Whether {@link changeToken} can tell changes (the store has a change token); if not, watchers must poll.
   * @example
   * if (!client.canWatchChanges) setInterval(refresh, 10_000);
   */
  get canWatchChanges(): boolean {
    return this.options.store.changeToken !== undefined;
  }

  /**
   * A token that changes whenever an instance or entity record is created, committed or purged (by any process on
   * the backend), or the number of dead letters changes: equal tokens mean nothing a dashboard shows changed. Three
   * cheap reads (the store's token and both queues' depths); `undefined` when the store has no change token.
   * @example
   * const before = await client.changeToken();
   * // … later
   * if ((await client.changeToken()) !== before) await refresh();
   */
  async changeToken(): Promise<string | undefined> {
    const { store, queue } = this.options;
    if (store.changeToken === undefined) return undefined;
    const [records, orchestrations, activities] = await Promise.all([
      store.changeToken(),
      queue.depth('orchestrations'),
      queue.depth('activities'),
    ]);
    return `${records}/${orchestrations.dead}/${activities.dead}`;
  }

  /** The current generation's history, oldest first. */
  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    const record = await this.require(instanceId);
    return loadHistory(this.options.store, record);
  }

  /**
   * Messages parked in the dead-letter queues, orchestrations first, each queue in the order its messages were
   * parked.
   */
  async listDeadLetters(queue?: QueueName): Promise<(DeadLetterEntry | UnreadableDeadLetterEntry)[]> {
    const entries: (DeadLetterEntry | UnreadableDeadLetterEntry)[] = [];
    for (const name of queuesOf(queue)) {
      for (const { message, reason } of await this.options.queue.deadLetters(name)) {
        entries.push({ queue: name, messageId: message.id, instanceId: message.instanceId, reason, message });
      }
      for (const { id, location, base64, reason } of await this.options.queue.unreadableDeadLetters(name)) {
        entries.push({ queue: name, messageId: id, reason, unreadable: { location, base64 } });
      }
    }
    return entries;
  }

  /**
   * Makes dead letters deliverable again, now, as fresh messages (their delivery count starts over): those of one
   * queue or both, all of them or only those with the given ids. A redriven orchestration message is applied by
   * its instance as if it arrived late. An activity parked by a worker has already failed its call (its
   * orchestration got a `PoisonMessage` failure): redriven, it runs again, but its result is dropped as a
   * duplicate.
   */
  async redriveDeadLetters(options: RedriveOptions = {}): Promise<RedriveResult> {
    const queues = queuesOf(options.queue);
    const { messageIds } = options;
    if (messageIds !== undefined) {
      if (!Array.isArray(messageIds) || messageIds.length === 0) {
        throw new ValidationError(
          'messageIds must list at least one message id (leave it out to redrive every dead letter).',
          { messageIds },
        );
      }
      for (const id of messageIds) requireString(id, 'messageIds[]');
    }
    const redriven: { queue: QueueName; messageIds: string[] }[] = [];
    for (const queue of queues) {
      // Redrive returns messages only; the unreadable dead letters it kicks back are those listed just before.
      const unreadable = (await this.options.queue.unreadableDeadLetters(queue))
        .map((d) => d.id)
        .filter((id) => messageIds === undefined || messageIds.includes(id));
      const messages = await this.options.queue.redrive(queue, messageIds);
      redriven.push({ queue, messageIds: [...messages.map((m) => m.id), ...unreadable] });
    }
    return { redriven };
  }

  /**
   * Deletes dead letters for good: those of one queue or both, only those with the given ids (message ids, or the
   * `job-<id>` of unreadable ones), or with `all: true` every one. Deleting is not undoable, so "all" is never
   * the default.
   * @example
   * const { deleted } = await client.deleteDeadLetters({ messageIds: ['job-42'] });
   */
  async deleteDeadLetters(options: DeleteDeadLettersOptions): Promise<DeleteDeadLettersResult> {
    const { messageIds, all } = options;
    if ((messageIds === undefined) === (all !== true)) {
      throw new ValidationError('Name the dead letters to delete (messageIds), or pass all: true; not both.', {
        ...options,
      });
    }
    if (messageIds !== undefined) {
      if (!Array.isArray(messageIds) || messageIds.length === 0) {
        throw new ValidationError('messageIds must list at least one message id.', { messageIds });
      }
      for (const id of messageIds) requireString(id, 'messageIds[]');
    }
    const deleted: { queue: QueueName; messageIds: string[] }[] = [];
    for (const queue of queuesOf(options.queue)) {
      deleted.push({ queue, messageIds: await this.options.queue.deleteDeadLetters(queue, messageIds) });
    }
    return { deleted };
  }

  private async require(instanceId: string): Promise<InstanceRecord> {
    validateInstanceId(instanceId);
    const record = await this.options.store.get(instanceId);
    if (!record) throw new DurableError('INSTANCE_NOT_FOUND', `No instance ${instanceId}.`);
    return record;
  }

  private async send(
    instanceId: string,
    needs: 'live' | 'running' | 'suspended',
    body: OrchestrationMessageBody,
    key: string = randomUUID(),
    check?: (record: InstanceRecord) => void,
  ): Promise<void> {
    const record = await this.require(instanceId);
    check?.(record);
    const ok =
      needs === 'live'
        ? !isTerminal(record.status)
        : needs === 'running'
          ? record.status === 'Running' || record.status === 'Pending' || record.status === 'ContinuedAsNew'
          : record.status === 'Suspended';
    if (!ok) {
      throw new DurableError('INVALID_STATE', `Instance ${instanceId} is ${record.status}: cannot ${describe(body)}.`);
    }
    const kind = body.type === 'EventRaised' ? 'event' : 'control';
    // For this creation of the id only: if it is purged and created again before the message arrives, it is dropped.
    const incarnation = record.incarnation ? { incarnation: record.incarnation } : {};
    await this.options.queue.send([
      {
        id: `${instanceId}/${kind}/${key}`,
        queue: 'orchestrations',
        instanceId,
        ...incarnation,
        body,
        priority: PRIORITY.control,
      },
    ]);
  }
}

/** Maps a stored record to what clients see. */
export function toStatus(record: InstanceRecord): InstanceStatus {
  return {
    instanceId: record.instanceId,
    name: record.name,
    status: record.status,
    generation: record.generation,
    ...(record.input !== undefined ? { input: record.input } : {}),
    ...(record.output !== undefined ? { output: record.output } : {}),
    ...(record.failure !== undefined ? { error: record.failure } : {}),
    ...(record.customStatus !== undefined ? { customStatus: record.customStatus } : {}),
    ...(record.stuck !== undefined ? { stuck: record.stuck } : {}),
    createdAt: new Date(record.createdAt),
    lastUpdatedAt: new Date(record.updatedAt),
    historyLength: record.historyLength,
    ...(record.parent !== undefined ? { parent: { instanceId: record.parent.instanceId } } : {}),
  };
}

function describe(body: OrchestrationMessageBody): string {
  return body.type === 'EventRaised' ? 'raise an event' : body.type.toLowerCase();
}

/** Throws `VALIDATION` unless `id` is a usable instance id (it becomes part of message ids and keys). */
export function validateInstanceId(id: unknown, field = 'instanceId'): asserts id is string {
  if (typeof id !== 'string' || !INSTANCE_ID.test(id)) {
    throw new ValidationError(
      `${field} must be 1-200 characters: letters, digits and _ . : # ~ - (got ${JSON.stringify(id) ?? String(id)}).`,
      { [field]: id },
    );
  }
}

/** The queues an operation covers: the one named (after checking it is a queue), or both. */
function queuesOf(queue: unknown): readonly QueueName[] {
  if (queue === undefined) return QUEUE_NAMES;
  if (!QUEUE_NAMES.includes(queue as QueueName)) {
    const shown = typeof queue === 'string' ? `'${queue}'` : `(a ${typeof queue})`;
    throw new ValidationError(`Unknown queue ${shown}; expected one of ${QUEUE_NAMES.join(', ')}.`, {
      queue,
      known: [...QUEUE_NAMES],
    });
  }
  return [queue as QueueName];
}

function requireString(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(`${field} must be a non-empty string.`, { [field]: value });
  }
}

function requireJson(value: unknown, field: string): void {
  try {
    JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`${field} must be JSON-serialisable: ${(error as Error).message}`, { field });
  }
}

/** The store filters of a list or count: checked, dates as epoch ms. */
function countQuery(options: CountOptions): CountQuery {
  if (options.idPrefix !== undefined && typeof options.idPrefix !== 'string') {
    throw new ValidationError('idPrefix must be a string.', { idPrefix: options.idPrefix });
  }
  if (options.stuck !== undefined && typeof options.stuck !== 'boolean') {
    throw new ValidationError('stuck must be true or false.', { stuck: options.stuck });
  }
  return {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.createdFrom ? { createdFrom: dateMs(options.createdFrom, 'createdFrom') } : {}),
    ...(options.createdTo ? { createdTo: dateMs(options.createdTo, 'createdTo') } : {}),
    ...(options.idPrefix !== undefined ? { idPrefix: options.idPrefix } : {}),
    ...(options.stuck !== undefined ? { stuck: options.stuck } : {}),
  };
}

function dateMs(value: Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : NaN;
  if (Number.isNaN(ms)) throw new ValidationError(`${field} must be a valid date.`, { [field]: String(value) });
  return ms;
}
