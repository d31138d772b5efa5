/**
 * The SQLite queue: the queue contract on one local file, shared by every process that opens it.
 *
 * Each message is one row in exactly one `state`, like the memory queue's places: `ready` (visible now),
 * `delayed` (visible at `visible_at`), `reserved` (until `visible_at`, by the holder of `receipt`) or `dead`.
 * Time is the injected clock's, and it is applied lazily, as in the memory queue: a `receive` first moves due
 * delayed messages and expired reservations to `ready` (an expiry adds 1 to `attempt`), then reserves the head of
 * the ready index (priority, seq). Reads that do not reserve (`depth`, `nextVisibleAt`) compute the same view
 * without writing. The receipt of an expired reservation stays honoured until someone reserves the message again
 * (but `touch` extends only a live one). `redrive` turns `dead` rows back into `ready` ones with `attempt` 1.
 *
 * A reservation's holder (`ReceiveOptions.consumer`, else the queue's `consumer` option: the process's boot id) is
 * written into its receipt, after a `~` (`<queue>:<seq>:<uuid>~<consumer>`; neither part before it contains one),
 * so that `reclaim` needs no column of its own and works on files of every schema version. `reclaim` expires the
 * reservations of every other holder at once, as time would.
 *
 * A receive that finds nothing waits: messages sent or released by this process wake it at once (in-process
 * notification); messages from other processes are found by polling every `pollIntervalMs` of clock time. All
 * processes sharing a file must therefore use the same time base (the system clock, in production).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { Message, QueueName } from '../../engine/messages.js';
import { PRIORITY, QUEUE_NAMES } from '../../engine/messages.js';
import type { Clock } from '../clock.js';
import type {
  DeadLetter,
  Delivery,
  Queue,
  QueueDepth,
  ReceiveOptions,
  Release,
  UnreadableDeadLetter,
} from '../queue.js';
import { assertReceiveArguments } from '../queue.js';
import type { DatabaseSource, SqliteDatabase } from './sqlite-database.js';
import { asPromise, holdDatabase, writeTransaction } from './sqlite-database.js';
import { sleepUnlessWoken, wakeAll } from '../wake.js';

/** Default poll interval while waiting, in clock ms: the latency of a message sent by another process. */
const DEFAULT_POLL_MS = 25;

export interface SqliteQueueOptions {
  readonly database: DatabaseSource;
  readonly clock: Clock;
  /** How often a waiting receive looks for messages from other processes (clock ms, default 25). */
  readonly pollIntervalMs?: number;
  /** Who holds this handle's reservations when a receive does not say (a boot id): see `reclaim`. */
  readonly consumer?: string;
}

interface SendRow {
  readonly queue: QueueName;
  readonly messageId: string;
  readonly instanceId: string;
  readonly priority: number;
  readonly state: 'ready' | 'delayed';
  readonly visibleAt: number;
  readonly body: string;
}

interface ReleaseRow {
  readonly receipt: string;
  readonly visibleAt: number;
  readonly now: number;
}

/**
 * Receives waiting in this process, per file and queue: a send or release here wakes them without polling.
 * Keyed by file path so that two handles on one file (in one process) still see each other's sends.
 */
const waitingByFile = new Map<string, Set<AbortController>>();

/**
 * A {@link Queue} in a SQLite file, on an injected {@link Clock}. Several processes may share the file; a
 * reservation is taken in a write transaction, so no message is ever reserved by two receivers at once.
 * @example
 * const clock = new SystemClock();
 * const queue = new SqliteQueue({ database: { path: 'durable.db' }, clock });
 * await queue.send([{ id: 'm1', queue: 'activities', instanceId: 'i1', body: request, deliverAt: clock.now() + 5000 }]);
 * const [delivery] = await queue.receive('activities', 1, { visibilityTimeoutMs: 30_000, waitMs: 10_000 });
 * if (delivery) await queue.ack(delivery);
 * await queue.close();
 */
export class SqliteQueue implements Queue {
  private readonly database: SqliteDatabase;
  private readonly releaseDatabase: () => void;
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly consumer: string | undefined;
  /** Identifies the file among this process's waiters (see `waitingByFile`). */
  private readonly fileKey: string;
  private readonly statements: ReturnType<typeof prepare>;
  private readonly sendRows: (rows: readonly SendRow[]) => void;
  private readonly take: (
    queue: QueueName,
    max: number,
    visibilityTimeoutMs: number,
    consumer: string | undefined,
  ) => Delivery[];
  private readonly expireOthers: (except: string, now: number) => number;
  private readonly settleRows: (acks: readonly string[], releases: readonly ReleaseRow[]) => QueueName[];
  private readonly bury: (receipt: string, reason: string) => void;
  private readonly extend: (receipt: string, expiresAt: number, now: number) => boolean;
  private readonly redriveRows: (queue: QueueName, wanted: ReadonlySet<string> | undefined, now: number) => Message[];
  private readonly deleteDeadRows: (queue: QueueName, wanted: ReadonlySet<string> | undefined) => string[];
  private closed = false;

  constructor(options: SqliteQueueOptions) {
    const pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    if (!(pollMs > 0)) throw new Error(`SqliteQueue: pollIntervalMs must be positive, got ${pollMs}.`);
    this.pollMs = pollMs;
    this.clock = options.clock;
    this.consumer = options.consumer;
    ({ database: this.database, release: this.releaseDatabase } = holdDatabase(options.database));
    const db = this.database.connection;
    // An in-memory database is private to its connection: key it by the handle instead of a path.
    this.fileKey = db.memory ? `memory:${idOf(this.database)}` : resolve(db.name);
    const s = (this.statements = prepare(db));

    this.sendRows = writeTransaction(db, (rows: readonly SendRow[]) => {
      for (const row of rows) s.insert.run(row);
    });

    const reserve = writeTransaction(
      db,
      (queue: QueueName, max: number, visibilityTimeoutMs: number, consumer: string | undefined) => {
        const now = this.clock.now();
        s.refresh.run(queue, now);
        // One statement reserves the whole batch. A fresh receipt per reservation (`<queue>:<seq>:<token>`, a new
        // token per batch, naming the holder): the previous holder's receipt stops matching, so it goes stale.
        const token = consumer === undefined ? randomUUID() : `${randomUUID()}~${consumer}`;
        const rows = s.reserve.all({ queue, max, expiresAt: now + visibilityTimeoutMs, token }) as {
          seq: number;
          priority: number;
          body: string;
          attempt: number;
          receipt: string;
        }[];
        // RETURNING gives no order: deliver in queue order, as the heads were chosen.
        rows.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
        return rows.map(({ body, attempt, receipt }) => ({ message: JSON.parse(body) as Message, receipt, attempt }));
      },
    );
    // A reservation need not survive power loss: lost, the message is simply visible again (delivery is at least
    // once anyway). So reserving skips the fsync; the next durable commit's fsync flushes it with everything else
    // in the WAL. This halves the fsyncs of a turn under durability `full`.
    const durable = this.database.durability === 'full';
    const withoutFsync = <T>(step: () => T): T => {
      if (!durable) return step();
      db.pragma('synchronous = NORMAL');
      try {
        return step();
      } finally {
        db.pragma('synchronous = FULL');
      }
    };
    this.take = (queue, max, visibilityTimeoutMs, consumer) =>
      withoutFsync(() => reserve(queue, max, visibilityTimeoutMs, consumer));
    // Ending reservations is a reservation change too: lost, the messages simply wait for their expiry again.
    const reclaimRows = writeTransaction(db, (except: string, now: number) => {
      let reclaimed = 0;
      for (const queue of QUEUE_NAMES) reclaimed += s.reclaim.run({ queue, except, now }).changes;
      return reclaimed;
    });
    this.expireOthers = (except, now) => withoutFsync(() => reclaimRows(except, now));

    // Extending a reservation is a reservation too: lost, it merely ends sooner. Only a live one is extended; an
    // expired one is over (the next receive makes the message ready again), whether or not a receive has looked.
    const touchRow = writeTransaction(
      db,
      (receipt: string, expiresAt: number, now: number) => s.touch.run({ receipt, expiresAt, now }).changes === 1,
    );
    this.extend = (receipt, expiresAt, now) => withoutFsync(() => touchRow(receipt, expiresAt, now));

    this.settleRows = writeTransaction(db, (acks: readonly string[], releases: readonly ReleaseRow[]) => {
      if (acks.length > 0) s.ack.run(JSON.stringify(acks));
      const released: QueueName[] = [];
      for (const row of releases) {
        const queue = s.release.get(row) as QueueName | undefined;
        if (queue !== undefined) released.push(queue);
      }
      return released;
    });

    this.bury = writeTransaction(db, (receipt: string, reason: string) => {
      const queue = s.queueOf.get(receipt) as QueueName | undefined;
      if (queue === undefined) return; // stale or unknown receipt: a no-op
      const deadSeq = ((s.lastDead.get(queue) as number | null) ?? 0) + 1;
      s.bury.run(reason, deadSeq, receipt);
    });

    this.redriveRows = writeTransaction(
      db,
      (queue: QueueName, wanted: ReadonlySet<string> | undefined, now: number) => {
        const rows = s.deadRows.all(queue) as { seq: number; message_id: string; body: string }[];
        const redriven: Message[] = [];
        for (const row of rows) {
          if (wanted !== undefined && !wanted.has(row.message_id)) continue;
          s.redrive.run(now, row.seq);
          redriven.push(JSON.parse(row.body) as Message);
        }
        return redriven;
      },
    );
    this.deleteDeadRows = writeTransaction(db, (queue: QueueName, wanted: ReadonlySet<string> | undefined) => {
      const rows = s.deadRows.all(queue) as { seq: number; message_id: string }[];
      const deleted: string[] = [];
      for (const row of rows) {
        if (wanted !== undefined && !wanted.has(row.message_id)) continue;
        s.deleteDead.run(row.seq);
        deleted.push(row.message_id);
      }
      return deleted;
    });
  }

  send(messages: readonly Message[]): Promise<void> {
    return asPromise(() => this.sendNow(messages));
  }

  /**
   * @internal The synchronous body of `send`, for {@link SqliteGroupCommit}: inside its transaction, this
   * write becomes part of the same atomic commit.
   */
  sendNow(messages: readonly Message[]): void {
    const now = this.clock.now();
    // Validate and serialize everything before writing anything: a send is all or nothing.
    const rows = messages.map((m): SendRow => {
      if (!QUEUE_NAMES.includes(m.queue)) throw new Error(`Unknown queue '${String(m.queue)}' on message ${m.id}.`);
      const body = JSON.stringify(m); // throws on values JSON cannot carry (BigInt, cycles)
      const message = JSON.parse(body) as Message;
      const priority =
        typeof message.priority === 'number' && Number.isFinite(message.priority) ? message.priority : PRIORITY.work;
      const visibleAt = typeof message.deliverAt === 'number' ? message.deliverAt : now;
      return {
        queue: message.queue,
        messageId: String(message.id),
        instanceId: String(message.instanceId),
        priority,
        state: visibleAt > now ? 'delayed' : 'ready',
        visibleAt,
        body,
      };
    });
    if (rows.length === 0) return;
    this.sendRows(rows);
    for (const queue of new Set(rows.map((r) => r.queue))) this.wake(queue);
  }

  async receive(queue: QueueName, max: number, options: ReceiveOptions): Promise<Delivery[]> {
    assertReceiveArguments(max, options);
    const { visibilityTimeoutMs, signal } = options;
    const deadline = this.clock.now() + Math.max(0, options.waitMs ?? 0);
    for (;;) {
      if (this.closed) return [];
      const consumer = options.consumer ?? this.consumer;
      const taken = this.anyVisible(queue) ? this.take(queue, max, visibilityTimeoutMs, consumer) : [];
      if (taken.length > 0 || signal?.aborted === true) return taken;
      const now = this.clock.now();
      if (now >= deadline) return [];
      // Sleep until the wait ends, the next message becomes visible by itself, or the next poll for messages
      // from other processes, whichever is first. This process's sends and releases wake us at once.
      const next = this.nextVisible(queue, now);
      const wakeAt = Math.min(deadline, now + this.pollMs, next !== undefined && next > now ? next : deadline);
      await this.sleep(queue, wakeAt - now, signal);
    }
  }

  ack(delivery: Delivery): Promise<void> {
    return this.settle({ ack: [delivery] });
  }

  release(delivery: Delivery, delayMs = 0): Promise<void> {
    return this.settle({ release: [{ delivery, delayMs }] });
  }

  settle(batch: { readonly ack?: readonly Delivery[]; readonly release?: readonly Release[] }): Promise<void> {
    return asPromise(() => this.settleNow(batch));
  }

  /** @internal The synchronous body of `settle`, for {@link SqliteGroupCommit}. */
  settleNow(batch: { readonly ack?: readonly Delivery[]; readonly release?: readonly Release[] }): void {
    const acks = (batch.ack ?? []).map((d) => d.receipt);
    const now = this.clock.now();
    const releases = (batch.release ?? []).map(({ delivery, delayMs }): ReleaseRow => ({
      receipt: delivery.receipt,
      visibleAt: now + (Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs)),
      now,
    }));
    if (acks.length === 0 && releases.length === 0) return;
    // Acks first, then releases, as the memory queue does; stale receipts match no row and are skipped.
    const released = this.settleRows(acks, releases);
    for (const queue of new Set(released)) this.wake(queue);
  }

  deadLetter(delivery: Delivery, reason: string): Promise<void> {
    return asPromise(() => this.bury(delivery.receipt, String(reason)));
  }

  depth(queue: QueueName): Promise<QueueDepth> {
    return asPromise(() => {
      const rows = this.statements.depth.all(this.clock.now(), queue) as {
        state: string;
        due: number;
        n: number;
      }[];
      const depth = { ready: 0, delayed: 0, reserved: 0, dead: 0 };
      for (const { state, due, n } of rows) {
        // A due delayed message or an expired reservation counts as ready: that is where the next receive puts it.
        if (state === 'dead') depth.dead += n;
        else if (state === 'ready' || due === 1) depth.ready += n;
        else if (state === 'delayed') depth.delayed += n;
        else depth.reserved += n;
      }
      return depth;
    });
  }

  /** None: every dead row holds a message this queue serialised itself. */
  unreadableDeadLetters(queue: QueueName): Promise<UnreadableDeadLetter[]> {
    return asPromise(() => {
      if (!QUEUE_NAMES.includes(queue)) throw new Error(`Unknown queue '${String(queue)}'.`);
      return [];
    });
  }

  deleteDeadLetters(queue: QueueName, ids?: readonly string[]): Promise<string[]> {
    return asPromise(() => this.deleteDeadRows(queue, ids === undefined ? undefined : new Set(ids)));
  }

  deadLetters(queue: QueueName): Promise<DeadLetter[]> {
    return asPromise(() => {
      const rows = this.statements.deadLetters.all(queue) as { body: string; dead_reason: string }[];
      return rows.map((r) => ({ message: JSON.parse(r.body) as Message, reason: r.dead_reason }));
    });
  }

  touch(delivery: Delivery, visibilityTimeoutMs: number): Promise<boolean> {
    return asPromise(() => {
      if (!(visibilityTimeoutMs >= 0)) throw new Error(`touch: bad visibilityTimeoutMs ${visibilityTimeoutMs}.`);
      const now = this.clock.now();
      return this.extend(delivery.receipt, now + visibilityTimeoutMs, now);
    });
  }

  redrive(queue: QueueName, messageIds?: readonly string[]): Promise<Message[]> {
    return asPromise(() => {
      const wanted = messageIds === undefined ? undefined : new Set(messageIds);
      const redriven = this.redriveRows(queue, wanted, this.clock.now());
      if (redriven.length > 0) this.wake(queue);
      return redriven;
    });
  }

  nextVisibleAt(queue: QueueName): Promise<number | undefined> {
    return asPromise(() => this.nextVisible(queue, this.clock.now()));
  }

  reclaim(except: string): Promise<number> {
    return asPromise(() => {
      const reclaimed = this.expireOthers(String(except), this.clock.now());
      if (reclaimed > 0) for (const queue of QUEUE_NAMES) this.wake(queue);
      return reclaimed;
    });
  }

  /** Wakes every receive waiting on this file (they look again; this queue's return nothing); releases the file. */
  close(): Promise<void> {
    return asPromise(() => {
      if (this.closed) return;
      this.closed = true;
      for (const queue of QUEUE_NAMES) this.wake(queue);
      this.releaseDatabase();
    });
  }

  /** A read-only look (no write lock): is anything visible now? Keeps idle polling off the write lock. */
  private anyVisible(queue: QueueName): boolean {
    return this.statements.anyVisible.get(queue, queue, this.clock.now()) === 1;
  }

  /** When the next delayed or reserved message becomes visible by itself (after `now`), if any. */
  private nextVisible(queue: QueueName, now: number): number | undefined {
    return (this.statements.nextVisible.get(queue, now, queue, now) as number | null) ?? undefined;
  }

  /** Sleeps on the clock for `ms`, waking early when this process sends to `queue` or `signal` aborts. */
  private async sleep(queue: QueueName, ms: number, signal: AbortSignal | undefined): Promise<void> {
    const key = this.waitKey(queue);
    let waiters = waitingByFile.get(key);
    if (waiters === undefined) {
      waiters = new Set();
      waitingByFile.set(key, waiters);
    }
    try {
      await sleepUnlessWoken(this.clock, waiters, ms, signal);
    } finally {
      if (waiters.size === 0 && waitingByFile.get(key) === waiters) waitingByFile.delete(key);
    }
  }

  /** Wakes every receive of this process waiting on `queue` of this file, to look again. */
  private wake(queue: QueueName): void {
    const key = this.waitKey(queue);
    const waiters = waitingByFile.get(key);
    if (waiters === undefined) return;
    waitingByFile.delete(key);
    wakeAll(waiters);
  }

  private waitKey(queue: QueueName): string {
    return `${this.fileKey}\u0000${queue}`;
  }
}

/** A stable id per handle, for in-memory databases (which have no shared path). */
const handleIds = new WeakMap<object, number>();
let nextHandleId = 0;
function idOf(handle: object): number {
  let id = handleIds.get(handle);
  if (id === undefined) {
    id = nextHandleId++;
    handleIds.set(handle, id);
  }
  return id;
}

/** The queue's statements, prepared once per queue. */
function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO messages (queue, message_id, instance_id, priority, state, visible_at, attempt, body)
       VALUES (@queue, @messageId, @instanceId, @priority, @state, @visibleAt, 1, @body)`,
    ),
    anyVisible: db
      .prepare(
        `SELECT EXISTS (SELECT 1 FROM messages WHERE queue = ? AND state = 'ready')
             OR EXISTS (SELECT 1 FROM messages WHERE queue = ? AND state IN ('delayed', 'reserved')
                                                 AND visible_at <= ?)`,
      )
      .pluck(),
    // Time applied: due delayed messages become ready; expired reservations too, counting the attempt (a worker
    // probably died). The receipt is kept: a late ack from the old holder still lands until a new reservation.
    refresh: db.prepare(
      `UPDATE messages SET attempt = attempt + (state = 'reserved'), state = 'ready'
       WHERE queue = ? AND state IN ('delayed', 'reserved') AND visible_at <= ?`,
    ),
    reserve: db.prepare(
      `UPDATE messages SET state = 'reserved', receipt = queue || ':' || seq || ':' || @token, visible_at = @expiresAt
       WHERE seq IN (SELECT seq FROM messages WHERE queue = @queue AND state = 'ready' ORDER BY priority, seq
                     LIMIT @max)
       RETURNING seq, priority, body, attempt, receipt`,
    ),
    // An expiry, now, of the live reservations of every holder but @except (the holder follows the receipt's first
    // `~`; a receipt without one has no holder). Already expired ones are left to `refresh`, which counts them once.
    reclaim: db.prepare(
      `UPDATE messages SET attempt = attempt + 1, state = 'ready', visible_at = @now
       WHERE queue = @queue AND state = 'reserved' AND visible_at > @now
         AND (instr(receipt, '~') = 0 OR substr(receipt, instr(receipt, '~') + 1) <> @except)`,
    ),
    ack: db.prepare(`DELETE FROM messages WHERE receipt IN (SELECT value FROM json_each(?)) AND state <> 'dead'`),
    // An expired reservation that nobody has refreshed yet still counts its expiry, so `attempt` depends only on
    // time, not on whether a receive happened to look in between.
    release: db
      .prepare(
        `UPDATE messages SET
           attempt = attempt + (state = 'reserved' AND visible_at <= @now),
           state = CASE WHEN @visibleAt > @now THEN 'delayed' ELSE 'ready' END,
           visible_at = @visibleAt,
           receipt = NULL
         WHERE receipt = @receipt AND state <> 'dead'
         RETURNING queue`,
      )
      .pluck(),
    queueOf: db.prepare(`SELECT queue FROM messages WHERE receipt = ? AND state <> 'dead'`).pluck(),
    lastDead: db.prepare(`SELECT max(dead_seq) FROM messages WHERE queue = ? AND state = 'dead'`).pluck(),
    bury: db.prepare(
      `UPDATE messages SET state = 'dead', dead_reason = ?, dead_seq = ?, receipt = NULL WHERE receipt = ?`,
    ),
    // Only a live reservation: held under this receipt and not yet expired (a reservation expires at `now >= expiry`).
    touch: db.prepare(
      `UPDATE messages SET visible_at = @expiresAt
       WHERE receipt = @receipt AND state = 'reserved' AND visible_at > @now`,
    ),
    deleteDead: db.prepare(`DELETE FROM messages WHERE seq = ? AND state = 'dead'`),
    deadRows: db.prepare(
      `SELECT seq, message_id, body FROM messages WHERE queue = ? AND state = 'dead' ORDER BY dead_seq`,
    ),
    // A fresh delivery: attempt 1, visible now whatever its deliverAt; `seq` is kept, so it takes its old place in
    // the send order.
    redrive: db.prepare(
      `UPDATE messages SET state = 'ready', visible_at = ?, attempt = 1, receipt = NULL, dead_reason = NULL,
         dead_seq = NULL
       WHERE seq = ?`,
    ),
    depth: db.prepare(
      `SELECT state, (state IN ('delayed', 'reserved') AND visible_at <= ?) AS due, count(*) AS n
       FROM messages WHERE queue = ? GROUP BY state, due`,
    ),
    deadLetters: db.prepare(
      `SELECT body, dead_reason FROM messages WHERE queue = ? AND state = 'dead' ORDER BY dead_seq`,
    ),
    nextVisible: db
      .prepare(
        `SELECT min(at) FROM (
           SELECT visible_at AS at FROM (SELECT visible_at FROM messages
             WHERE queue = ? AND state = 'delayed' AND visible_at > ? ORDER BY visible_at LIMIT 1)
           UNION ALL
           SELECT visible_at AS at FROM (SELECT visible_at FROM messages
             WHERE queue = ? AND state = 'reserved' AND visible_at > ? ORDER BY visible_at LIMIT 1))`,
      )
      .pluck(),
  };
}
