/**
 * The in-memory store: the reference implementation of the store contract, for tests and single-process runs.
 *
 * It deliberately offers no more than a document database would: records live in one map and history chunks
 * in another, `compareAndSet` is the only conditional write (atomic on one record because the check and the
 * write happen in the same synchronous step), and `putHistoryChunk` is an independent, unconditional upsert.
 * Every value is stored and returned as a JSON copy, so no caller can rely on object identity, on mutating a
 * stored object, or on values JSON cannot carry (`undefined` fields, class instances, dates).
 */
import type { HistoryEvent } from '../../engine/history.js';
import type {
  CasResult,
  CountQuery,
  HistoryChunk,
  InstanceRecord,
  ListPage,
  ListQuery,
  StatusCounts,
  Store,
  TurnCommit,
} from '../store.js';
import { assembleHistory, assertCasArguments, incarnationOf, matchesQuery, statusCounts } from '../store.js';
import { compareNewestFirst, decodeCursor, encodeCursor, pageSize } from '../list-paging.js';

/** Runs a synchronous step as an async operation: a throw becomes a rejection, like a database error. */
function settle<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** A deep copy through JSON: what a database would hand back. */
function json<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The key of a chunk within one instance: chunks are immutable and addressed by incarnation, generation and start. */
function chunkKey(chunk: HistoryChunk): string {
  return `${incarnationOf(chunk)}:${chunk.generation}:${chunk.fromIndex}`;
}

/**
 * A {@link Store} held in process memory. Nothing survives the process; everything else behaves like a
 * single-document database (see the store contract).
 * @example
 * const store = new MemoryStore();
 * const result = await store.compareAndSet(record, 0); // create: version 1, expected 0
 * if (!result.ok) console.log('someone else created it', result.current);
 */
export class MemoryStore implements Store {
  /** instanceId → record (a private JSON copy). */
  private readonly records = new Map<string, InstanceRecord>();
  /** instanceId → chunkKey → chunk (private JSON copies). Independent of `records`: no write touches both. */
  private readonly chunks = new Map<string, Map<string, HistoryChunk>>();
  /** Claim-check bodies by key (independent of records and chunks). */
  private readonly claims = new Map<string, string>();
  /** Bumped by every write of a record (creation, commit, purge): the change token. */
  private writes = 0;

  // The options object is reserved for future settings; the memory store has none today.
  constructor(_options: Record<string, never> = {}) {}

  get(instanceId: string): Promise<InstanceRecord | undefined> {
    const record = this.records.get(instanceId);
    return Promise.resolve(record === undefined ? undefined : json(record));
  }

  compareAndSet(next: InstanceRecord, expectedVersion: number): Promise<CasResult> {
    return settle(() => {
      assertCasArguments(next, expectedVersion);
      // Check and write in one synchronous step: no other call can interleave, so this is atomic on the record.
      const current = this.records.get(next.instanceId);
      if ((current?.version ?? 0) !== expectedVersion) {
        return { ok: false, current: current === undefined ? undefined : json(current) };
      }
      this.records.set(next.instanceId, json(next));
      this.writes += 1;
      return { ok: true };
    });
  }

  async commitMany(commits: readonly TurnCommit[]): Promise<CasResult[]> {
    // No transaction to share: each item is its own chunk write and compare-and-set, as the contract allows.
    const results: CasResult[] = [];
    for (const c of commits) {
      if (c.archive) await this.putHistoryChunk(c.archive);
      results.push(await this.compareAndSet(c.next, c.expectedVersion));
    }
    return results;
  }

  async getMany(instanceIds: readonly string[]): Promise<Map<string, InstanceRecord>> {
    const found = new Map<string, InstanceRecord>();
    for (const id of instanceIds) {
      const record = await this.get(id);
      if (record) found.set(id, record);
    }
    return found;
  }

  putHistoryChunk(chunk: HistoryChunk): Promise<void> {
    // An unconditional upsert: the key is deterministic and the content committed, so a rewrite is harmless.
    let byKey = this.chunks.get(chunk.instanceId);
    if (byKey === undefined) {
      byKey = new Map();
      this.chunks.set(chunk.instanceId, byKey);
    }
    byKey.set(chunkKey(chunk), json(chunk));
    return Promise.resolve();
  }

  readHistory(record: InstanceRecord): Promise<HistoryEvent[]> {
    return settle(() => {
      const { instanceId, generation, tail } = record;
      const incarnation = incarnationOf(record);
      // Only chunks strictly below the tail count: anything at or above it was written by a turn that never
      // committed (a crash between `putHistoryChunk` and `compareAndSet`), so it is not history yet.
      const below = [...(this.chunks.get(instanceId)?.values() ?? [])]
        .filter((c) => incarnationOf(c) === incarnation && c.generation === generation && c.fromIndex < tail.fromIndex)
        .sort((a, b) => a.fromIndex - b.fromIndex);
      return assembleHistory(
        record,
        below.map((c) => ({ fromIndex: c.fromIndex, events: json(c.events) })),
      );
    });
  }

  deleteHistory(
    instanceId: string,
    current: { readonly incarnation?: string; readonly generation: number },
  ): Promise<void> {
    const byKey = this.chunks.get(instanceId);
    if (byKey !== undefined) {
      for (const [key, chunk] of byKey) {
        if (incarnationOf(chunk) !== incarnationOf(current) || chunk.generation < current.generation) byKey.delete(key);
      }
      if (byKey.size === 0) this.chunks.delete(instanceId);
    }
    return Promise.resolve();
  }

  list(query: ListQuery): Promise<ListPage> {
    return settle(() => {
      const limit = pageSize(query.limit);
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      // An empty status list is read as "no status filter", like an absent one.
      const statuses = query.statuses === undefined || query.statuses.length === 0 ? undefined : query.statuses;
      const matching = [...this.records.values()]
        .filter(
          (r) =>
            matchesQuery(r, query) &&
            (statuses === undefined || statuses.includes(r.status)) &&
            (after === undefined || compareNewestFirst(r, after) > 0),
        )
        .sort(compareNewestFirst);
      const items = json(matching.slice(0, limit));
      const last = items[items.length - 1];
      // The cursor is the position of the last item, not an offset: records created or purged between pages
      // neither repeat nor skip the records that were already there.
      return matching.length > limit && last !== undefined ? { items, nextCursor: encodeCursor(last) } : { items };
    });
  }

  countByStatus(query: CountQuery): Promise<StatusCounts> {
    return settle(() => {
      const found = new Map<string, number>();
      let stuck = 0;
      for (const r of this.records.values()) {
        if (!matchesQuery(r, query)) continue;
        found.set(r.status, (found.get(r.status) ?? 0) + 1);
        if (r.stuck !== undefined) stuck += 1;
      }
      return statusCounts(found, stuck);
    });
  }

  changeToken(): Promise<string> {
    return Promise.resolve(String(this.writes));
  }

  purge(instanceId: string, expectedVersion: number): Promise<boolean> {
    const current = this.records.get(instanceId);
    if (current === undefined || current.version !== expectedVersion) return Promise.resolve(false);
    this.writes += 1;
    this.records.delete(instanceId);
    this.chunks.delete(instanceId);
    return Promise.resolve(true);
  }

  putClaim(key: string, json: string): Promise<void> {
    this.claims.set(key, json);
    return Promise.resolve();
  }

  getClaim(key: string): Promise<string | undefined> {
    return Promise.resolve(this.claims.get(key));
  }

  deleteClaim(key: string): Promise<void> {
    this.claims.delete(key);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
