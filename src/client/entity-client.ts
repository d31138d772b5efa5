/**
 * The client's entity operations: signal, read state, list, and clean storage. `DurableClient` exposes them;
 * they live here to keep each file about one thing.
 */
import { randomUUID } from 'node:crypto';
import { entityMessage } from '../engine/actions.js';
import type { EntitySignalProxy } from '../engine/entity.js';
import type { EntityOperationFailure } from '../engine/entity-executor.js';
import { entityId as makeEntityId, operationProxy, parseEntityId } from '../engine/entity.js';
import { ValidationError } from '../engine/errors.js';
import { isTerminal } from '../engine/status.js';
import type { Clock } from '../backends/clock.js';
import type { Queue } from '../backends/queue.js';
import type { InstanceRecord, Store } from '../backends/store.js';
import { incarnationOf, nextRecord } from '../backends/store.js';
import { parseOrchestrationSenderId } from '../engine/messages.js';

export interface EntityClientOptions {
  readonly store: Store;
  readonly queue: Queue;
  readonly clock: Clock;
  /** Entity names `signalEntity` accepts. Default: any (a worker answers unknown ones with an error). */
  readonly entities?: readonly string[];
}

/** An entity's state as a client reads it. */
export interface EntityState<S = unknown> {
  readonly entityId: string;
  readonly name: string;
  readonly key: string;
  readonly state: S;
  readonly lastModified: Date;
  /** The orchestration holding it in a critical section, if any. */
  readonly lockedBy?: string;
  /** Operations waiting for the lock to be released. */
  readonly queued: number;
  /** False for an entity without state (read with `includeDeleted`): `state` is then undefined. */
  readonly hasState: boolean;
  /** The most recent operation that failed (kept until another one fails), signals included. */
  readonly lastFailure?: EntityFailure;
}

/** A failed entity operation, as {@link EntityState.lastFailure} shows it. */
export interface EntityFailure {
  readonly operation: string;
  /** The error's name and message (and code, for Durable's errors). */
  readonly error: { readonly name: string; readonly message: string; readonly code?: string };
  readonly at: Date;
  /** Who sent the operation: an orchestration instance id, an entity id, or `client`. */
  readonly from: string;
  /** True for a one-way signal, false for a call (whose caller got the error too). */
  readonly signal: boolean;
}

export interface ListEntitiesOptions {
  readonly name?: string;
  readonly limit?: number;
  readonly cursor?: string;
  /** Include entities without state (deleted, or never given one); default false. Without it a page may hold
   * fewer than `limit` items (even none) and still have a `nextCursor`. */
  readonly includeDeleted?: boolean;
}

export interface CleanEntityStorageResult {
  /** Entities without state, lock or pending work, removed. */
  readonly removedEmpty: number;
  /** Locks held by orchestrations that no longer exist or have ended, released. */
  readonly releasedLocks: number;
  /** Ordering records of senders that ended more than an hour ago, forgotten. */
  readonly prunedSenders: number;
}

/** How long an ended orchestration's ordering record is kept (its last messages may still be in flight). */
const SENDER_GRACE_MS = 3600_000;

export class EntityClient {
  private readonly known: ReadonlySet<string> | undefined;

  constructor(private readonly options: EntityClientOptions) {
    this.known = options.entities ? new Set(options.entities) : undefined;
  }

  async signalEntity(
    id: string,
    operation: string,
    input?: unknown,
    options: { at?: Date; signalId?: string } = {},
  ): Promise<void> {
    const { name, id: entityId } = parseEntityId(id);
    if (this.known && !this.known.has(name)) {
      throw new ValidationError(
        `Unknown entity '${name}'.`,
        { entity: name, known: [...this.known] },
        'UNKNOWN_ENTITY',
      );
    }
    if (typeof operation !== 'string' || operation.length === 0) {
      throw new ValidationError('operation must be a non-empty string.', { operation });
    }
    try {
      JSON.stringify(input);
    } catch (error) {
      throw new ValidationError(`input must be JSON-serialisable: ${(error as Error).message}`, { field: 'input' });
    }
    if (options.at !== undefined && (!(options.at instanceof Date) || Number.isNaN(options.at.getTime()))) {
      throw new ValidationError('at must be a valid Date.', { at: String(options.at) });
    }
    if (options.signalId !== undefined && !/^[A-Za-z0-9_.:#~-]{1,200}$/.test(options.signalId)) {
      throw new ValidationError('signalId must be 1-200 characters: letters, digits and _ . : # ~ -.', {
        signalId: options.signalId,
      });
    }
    const message = entityMessage(`${entityId}/signal/${options.signalId ?? randomUUID()}`, entityId, {
      type: 'EntityOperation',
      operation,
      input,
      sender: { id: 'client' },
    });
    await this.options.queue.send([options.at ? { ...message, deliverAt: options.at.getTime() } : message]);
  }

  /** A typed one-way proxy: `await client.entity<Counter>('counter', 'k').add(5)`. */
  entity<T>(name: string, key: string): EntitySignalProxy<T, Promise<void>> {
    const id = makeEntityId(name, key);
    return operationProxy<EntitySignalProxy<T, Promise<void>>>((operation, input) =>
      this.signalEntity(id, operation, input),
    );
  }

  /**
   * The entity's state, or `undefined` when it has none (never created, or deleted); with `includeDeleted`, an entity
   * record without state (its operations failed, or deleted it) is returned too, with `hasState: false`.
   */
  async readEntityState<S = unknown>(
    id: string,
    options: { readonly includeDeleted?: boolean } = {},
  ): Promise<EntityState<S> | undefined> {
    const { id: entityId } = parseEntityId(id);
    const record = await this.options.store.get(entityId);
    if (!record?.entity) return undefined;
    if (!record.entity.exists && !options.includeDeleted) return undefined;
    return toEntityState<S>(record);
  }

  async listEntities(options: ListEntitiesOptions = {}): Promise<{ items: EntityState[]; nextCursor?: string }> {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('limit must be an integer from 1 to 1000.', { limit });
    }
    const page = await this.options.store.list({
      kind: 'entity',
      limit,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
    });
    const items = page.items.filter((r) => options.includeDeleted || r.entity?.exists).map((r) => toEntityState(r));
    return { items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /**
   * Removes empty entities, releases locks whose holder no longer exists or has ended (for example after a purge),
   * and forgets ordering records of senders that ended over an hour ago.
   */
  async cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    const { store, queue, clock } = this.options;
    let removedEmpty = 0;
    let releasedLocks = 0;
    let prunedSenders = 0;
    let cursor: string | undefined;
    do {
      const page = await store.list({ kind: 'entity', limit: 200, ...(cursor ? { cursor } : {}) });
      for (const record of page.items) {
        const data = record.entity;
        if (!data) continue;
        if (data.lock && (await this.hasEnded(data.lock.holder))) {
          await queue.send([
            entityMessage(`${data.lock.lockId}/release-orphaned`, record.instanceId, {
              type: 'EntityUnlock',
              lockId: data.lock.lockId,
              sender: { id: 'client' },
            }),
          ]);
          releasedLocks++;
          continue;
        }
        const empty = !data.exists && !data.lock && data.queue.length === 0 && data.early.length === 0;
        if (empty) {
          // The last turn's messages may never have left (a crash after its commit): send them before the record
          // that remembers them goes. Receivers drop them if they did arrive.
          if (record.outbox.length > 0) await queue.send(record.outbox);
          if (await store.purge(record.instanceId, record.version)) removedEmpty++;
          continue;
        }
        const stale: string[] = [];
        for (const sender of Object.keys(data.senders)) {
          const execution = parseOrchestrationSenderId(sender);
          if (!execution) continue; // an entity: they live on, and so does their ordering
          if (await this.hasEnded(execution, clock.now() - SENDER_GRACE_MS)) stale.push(sender);
        }
        if (stale.length > 0) {
          const senders = Object.fromEntries(Object.entries(data.senders).filter(([s]) => !stale.includes(s)));
          const cas = await store.compareAndSet(nextRecord(record, { entity: { ...data, senders } }), record.version);
          if (cas.ok) prunedSenders += stale.length;
        }
      }
      cursor = page.nextCursor;
    } while (cursor);
    return { removedEmpty, releasedLocks, prunedSenders };
  }

  /**
   * Whether that orchestration execution is over (and, with `endedBefore`, was over before that time). An execution
   * of a purged incarnation is over, even if its id was created again.
   */
  private async hasEnded(
    execution: { readonly instanceId: string; readonly generation: number; readonly incarnation?: string },
    endedBefore = Infinity,
  ): Promise<boolean> {
    const { instanceId, generation } = execution;
    const record = await this.options.store.get(instanceId);
    if (!record) return true;
    if (execution.incarnation !== undefined && execution.incarnation !== incarnationOf(record)) return true;
    if (record.generation > generation) return record.updatedAt < endedBefore;
    return isTerminal(record.status) && record.updatedAt < endedBefore;
  }
}

function toEntityState<S>(record: InstanceRecord): EntityState<S> {
  const data = record.entity;
  const { name, key } = parseEntityId(record.instanceId);
  return {
    entityId: record.instanceId,
    name,
    key,
    state: data?.state as S,
    lastModified: new Date(data?.lastModified ?? record.updatedAt),
    ...(data?.lock ? { lockedBy: data.lock.holder.instanceId } : {}),
    queued: data?.queue.length ?? 0,
    hasState: data?.exists ?? false,
    ...(data?.lastFailure ? { lastFailure: toEntityFailure(data.lastFailure) } : {}),
  };
}

function toEntityFailure(f: EntityOperationFailure): EntityFailure {
  const { name, message, code } = f.failure;
  return {
    operation: f.operation,
    error: code === undefined ? { name, message } : { name, message, code },
    at: new Date(f.at),
    from: f.from,
    signal: f.signal,
  };
}
