/**
 * The store contract: where instances live.
 *
 * WHAT IS IN THE CONTRACT
 * - One **instance record** per orchestration instance, read and written as a single document. It holds the
 *   status fields the client shows, the events of the instance's last committed turn (`tail`) and the
 *   messages that turn produced (`outbox`).
 * - **History chunks**: immutable, deterministically keyed pieces of history (`instanceId`, `generation`,
 *   `fromIndex`). Writing a chunk twice with the same key writes the same content, so it is idempotent.
 * - `compareAndSet` is **the commit point**: one atomic conditional write of one record on its version.
 *   RethinkDB has no multi-document transactions, so nothing else may be assumed atomic. A turn commits as:
 *     1. `putHistoryChunk(previous tail)` — data that was already committed, moved out of the record so the
 *        record stays small (history is appended, never rewritten; a turn's cost does not grow with history);
 *     2. `compareAndSet(next record, expectedVersion)` — the new tail and outbox, or nothing at all.
 *   A crash between 1 and 2 leaves a chunk that repeats committed data under its deterministic key: readers
 *   use chunks only below the record's `tail.fromIndex`, so it is harmless and will be written again.
 * - `putHistoryChunk` **replaces** whatever is stored under its key (an upsert, never insert-if-absent): after a
 *   purge and re-creation of an id, a stale worker may have left a chunk under a key the new instance reuses,
 *   and the new instance's own write must win. Empty tails are never written as chunks.
 * - Record invariants: `tail.instanceId` and `tail.generation` are the record's, and
 *   `historyLength = tail.fromIndex + tail.events.length`.
 * - `commitMany` is the same thing for several instances at once (group commit): still one conditional write per
 *   record, each decided on its own; a backend may put them in one transaction to share the durable write.
 * - `readHistory` = the chunks of the record's generation below `tail.fromIndex`, then the tail; it rejects if
 *   those chunks do not cover indexes `0 … tail.fromIndex - 1` without a gap.
 * - `list` filters by kind (orchestrations or entities, never mixed), status, name, creation time, an id prefix
 *   (case-sensitive) and whether the record is stuck, newest first, with an opaque cursor for paging.
 *   `countByStatus` counts what `list` would return under the same filters (status aside), per status.
 * - `changeToken` (optional): a cheap value that differs after any write to any record, by any process, so that a
 *   watcher can poll one value instead of re-reading listings.
 * - Entities are records too (`kind: 'entity'`, id `name@key`): their state and bookkeeping live in the record's
 *   `entity` field, committed by the same compare-and-set, with no history chunks.
 *
 * WHAT IS DELIBERATELY NOT
 * - No transactions across records, no multi-record conditions, no locking: safety comes from the version.
 * - No queues: messages in transit belong to the queue contract. The outbox is only a record of what the
 *   last turn must send, re-sent by a worker that loads the instance after a crash (receivers drop duplicates).
 * - Values are JSON: adapters may (and the memory adapter does) round-trip every value through JSON, so
 *   `undefined` fields vanish and class instances become plain objects.
 */
import type { FailureDetails } from '../engine/errors.js';
import type { EntityData } from '../engine/entity-executor.js';
import type { OrchestrationSnapshot } from '../engine/executor.js';
import type { HistoryEvent } from '../engine/history.js';
import { startMessage } from '../engine/actions.js';
import type { Message, OrchestrationMessage } from '../engine/messages.js';
import type { RuntimeStatus } from '../engine/status.js';
import { RUNTIME_STATUSES } from '../engine/status.js';

/**
 * The instance as stored: the engine's snapshot (name, generation, status, input, output, failure, custom status,
 * parent) plus what the store and runtime need. `generation` is the execution number (+1 on each continue-as-new
 * or restart); history chunks are kept per generation.
 */
export interface InstanceRecord extends OrchestrationSnapshot {
  /** Incremented by every successful compare-and-set; 1 after creation. */
  readonly version: number;
  /** Absent for orchestrations. Entity records (`instanceId` = `name@key`) keep their data in `entity`. */
  readonly kind?: 'entity';
  readonly entity?: EntityData;
  /** Why the instance cannot make progress right now (nondeterminism, a poison message); cleared by progress. */
  readonly stuck?: FailureDetails;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Events in this generation's history, the tail included. */
  readonly historyLength: number;
  /**
   * The newest events, history indexes `fromIndex` to `historyLength - 1`: those of the last turns, up to the
   * runtime's tail limit; older ones are archived as chunks. A tail from index 0 is the whole history.
   */
  readonly tail: HistoryChunk;
  /** Messages the last committed turn produced; sent after the commit, re-sent after a crash. */
  readonly outbox: readonly Message[];
  /**
   * The epoch of the lock (`Lock.epoch`) the committing worker held. A worker that finds the lock released cleanly
   * in the same epoch knows the outbox was sent; otherwise it sends it again (see runtime/outbox.ts).
   */
  readonly lockEpoch?: string;
}

export interface HistoryChunk {
  readonly instanceId: string;
  /**
   * The incarnation (creation of the instance id) the chunk belongs to; part of its key, so a chunk left by a purged
   * incarnation (a purge that crashed between its deletes, a stale worker writing after it) is never read by a later
   * one. Absent ('') for chunks written before incarnations existed.
   */
  readonly incarnation?: string;
  readonly generation: number;
  /** Index of `events[0]` in the generation's history. */
  readonly fromIndex: number;
  readonly events: readonly HistoryEvent[];
}

export interface ListQuery {
  /** Orchestrations (default) or entities; a listing never mixes the two. */
  readonly kind?: 'orchestration' | 'entity';
  readonly statuses?: readonly RuntimeStatus[];
  readonly name?: string;
  /** Epoch ms, inclusive. */
  readonly createdFrom?: number;
  /** Epoch ms, exclusive. */
  readonly createdTo?: number;
  /** Page size (default 50, at most 1000). */
  readonly limit?: number;
  /** From a previous page's `nextCursor`. */
  readonly cursor?: string;
  /** Only ids starting with this (case-sensitive; compared by code units, ids being ASCII). */
  readonly idPrefix?: string;
  /** `true`: only records with `stuck`; `false`: only records without it. */
  readonly stuck?: boolean;
}

/** The filters `countByStatus` takes: those of `list` but status and paging. */
export type CountQuery = Omit<ListQuery, 'statuses' | 'limit' | 'cursor'>;

/** How many records match a {@link CountQuery}, per status (every status present, zeros included). */
export interface StatusCounts {
  readonly byStatus: Record<RuntimeStatus, number>;
  /** Of those, how many are stuck (`stuck` set), whatever their status. */
  readonly stuck: number;
  /** The sum of `byStatus`. */
  readonly total: number;
}

export interface ListPage {
  /** Newest first (by `createdAt`, then `instanceId`). */
  readonly items: readonly InstanceRecord[];
  /** Present when more items may follow. */
  readonly nextCursor?: string;
}

export type CasResult = { readonly ok: true } | { readonly ok: false; readonly current: InstanceRecord | undefined };

/** One turn's commit: archive the previous tail (if any), then compare-and-set the record. */
export interface TurnCommit {
  readonly archive?: HistoryChunk;
  readonly next: InstanceRecord;
  readonly expectedVersion: number;
}

export interface Store {
  /** The record, or `undefined`. */
  get(instanceId: string): Promise<InstanceRecord | undefined>;
  /**
   * The commit point. Writes `next` if and only if the stored version is `expectedVersion` (0: the record must
   * not exist). `next.version` must be `expectedVersion + 1`. On conflict nothing is written and the current
   * record is returned.
   */
  compareAndSet(next: InstanceRecord, expectedVersion: number): Promise<CasResult>;
  /**
   * Group commit: several turns (of different instances) at once. Each item is its own archive + compare-and-set,
   * decided independently: one may conflict while the others succeed. Adapters that can make the whole batch one
   * durable write (SQLite: one transaction, one fsync) should; others may loop. Results are in item order.
   */
  commitMany(commits: readonly TurnCommit[]): Promise<CasResult[]>;
  /** The records that exist among `instanceIds`. */
  getMany(instanceIds: readonly string[]): Promise<Map<string, InstanceRecord>>;
  /** Idempotent upsert of an immutable chunk keyed by (instanceId, generation, fromIndex). */
  putHistoryChunk(chunk: HistoryChunk): Promise<void>;
  /** The history of the record's current generation as committed (chunks below the tail, then the tail). */
  readHistory(record: InstanceRecord): Promise<HistoryEvent[]>;
  /**
   * Removes the instance's chunks that are not of `current`'s incarnation, or of a generation below `current`'s:
   * garbage after continue-as-new, a restart, or a purge whose chunk deletes did not finish.
   */
  deleteHistory(
    instanceId: string,
    current: { readonly incarnation?: string; readonly generation: number },
  ): Promise<void>;
  list(query: ListQuery): Promise<ListPage>;
  /** How many records `list` would return under `query`'s filters, per status, without reading them page by page. */
  countByStatus(query: CountQuery): Promise<StatusCounts>;
  /**
   * Optional: a token that changes whenever any record is written, created or purged (by any process sharing the
   * backend); equal tokens mean nothing changed in between (as far as the backend can tell cheaply). For watchers
   * (the API's change stream), which compare it at most once a second instead of re-reading listings.
   */
  changeToken?(): Promise<string>;
  /**
   * Claim checks: a message body too large for the queue (beanstalkd's 64 KiB job limit) is kept here, under a
   * unique key, while its message is in transit. `putClaim` is an upsert and durable once it resolves; `getClaim`
   * returns undefined for an unknown key; `deleteClaim` is idempotent.
   */
  putClaim(key: string, json: string): Promise<void>;
  getClaim(key: string): Promise<string | undefined>;
  deleteClaim(key: string): Promise<void>;
  /** Deletes the record (if still at `expectedVersion`) and all its history. Returns false on a version conflict. */
  purge(instanceId: string, expectedVersion: number): Promise<boolean>;
  /**
   * Optional: resolves once the record of `instanceId` is no longer at `version` (0: absent), or after `waitMs`,
   * whichever is first; the caller reads the record again either way. A store that can be told about changes
   * (RethinkDB's changefeeds) has it; the others are polled. May reject on a backend failure.
   */
  waitForChange?(instanceId: string, version: number, waitMs: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * The start message of a Pending record (created by a client, not yet started by a worker). Deterministic: sent
 * again after a lost send, it is the same message, and the instance drops a second copy.
 */
export function pendingStartMessage(record: InstanceRecord): OrchestrationMessage {
  return startMessage(
    record.instanceId,
    record.name,
    record.input,
    record.generation,
    undefined,
    undefined,
    record.incarnation,
  );
}

/** Identity of a record's or chunk's incarnation: '' for those written before incarnations existed. */
export function incarnationOf(item: { readonly incarnation?: string }): string {
  return item.incarnation ?? '';
}

/** Builds a record's next version: same identity, version + 1, the given fields changed. */
export function nextRecord(
  current: InstanceRecord,
  changes: Partial<Omit<InstanceRecord, 'instanceId' | 'version'>>,
): InstanceRecord {
  return { ...current, ...changes, version: current.version + 1 };
}

/**
 * Throws on a compare-and-set that breaks the contract's rules (a programming error, not a conflict: a conflict
 * is a race the caller handles; these are bugs it must see). Shared by the adapters.
 */
export function assertCasArguments(next: InstanceRecord, expectedVersion: number): void {
  if (next.version !== expectedVersion + 1) {
    throw new Error(
      `compareAndSet(${next.instanceId}): next.version must be expectedVersion + 1 ` +
        `(${expectedVersion + 1}), got ${next.version}.`,
    );
  }
  if (next.tail.instanceId !== next.instanceId) {
    throw new Error(
      `compareAndSet(${next.instanceId}): the tail belongs to instance ${next.tail.instanceId}, not to the record.`,
    );
  }
}

/**
 * The history of `record`'s generation from its archived chunks (those below the tail, in index order) and its tail.
 * The chunks must tile `[0, tail.fromIndex)` exactly: a hole means lost history, and replaying it would run the
 * orchestration against the wrong past, so it throws instead. Shared by the adapters.
 */
export function assembleHistory(
  record: InstanceRecord,
  chunks: Iterable<{ readonly fromIndex: number; readonly events: readonly HistoryEvent[] }>,
): HistoryEvent[] {
  const { instanceId, generation, tail } = record;
  const gap = (index: number): Error =>
    new Error(
      `History of instance ${instanceId} (generation ${generation}) is not contiguous: no chunk starts at index ${index}.`,
    );
  const history: HistoryEvent[] = [];
  for (const chunk of chunks) {
    if (chunk.fromIndex !== history.length) throw gap(history.length);
    history.push(...chunk.events);
  }
  if (history.length !== tail.fromIndex) throw gap(history.length);
  history.push(...(JSON.parse(JSON.stringify(tail.events)) as HistoryEvent[]));
  return history;
}

/**
 * The history of `record`'s generation: from its tail alone when the tail starts at index 0 (no chunk to read, no
 * round trip), otherwise through `store.readHistory`.
 */
export function loadHistory(store: Pick<Store, 'readHistory'>, record: InstanceRecord): Promise<HistoryEvent[]> {
  return record.tail.fromIndex === 0 ? Promise.resolve(assembleHistory(record, [])) : store.readHistory(record);
}

/**
 * Counts from per-status numbers (missing statuses are 0): what the adapters return from `countByStatus`.
 * @example
 * statusCounts(new Map([['Running', 2]]), 0); // { byStatus: { Pending: 0, Running: 2, … }, stuck: 0, total: 2 }
 */
export function statusCounts(found: ReadonlyMap<string, number>, stuck: number): StatusCounts {
  const byStatus = Object.fromEntries(RUNTIME_STATUSES.map((s) => [s, found.get(s) ?? 0])) as Record<
    RuntimeStatus,
    number
  >;
  const total = RUNTIME_STATUSES.reduce((sum, s) => sum + byStatus[s], 0);
  return { byStatus, stuck, total };
}

/**
 * Whether a record passes a list's or a count's filters (status, paging aside): the memory store's filter, and the
 * definition the other adapters' queries must agree with.
 */
export function matchesQuery(record: InstanceRecord, query: CountQuery): boolean {
  return (
    (record.kind ?? 'orchestration') === (query.kind ?? 'orchestration') &&
    (query.name === undefined || record.name === query.name) &&
    (query.createdFrom === undefined || record.createdAt >= query.createdFrom) &&
    (query.createdTo === undefined || record.createdAt < query.createdTo) &&
    (query.idPrefix === undefined || record.instanceId.startsWith(query.idPrefix)) &&
    (query.stuck === undefined || (record.stuck !== undefined) === query.stuck)
  );
}
