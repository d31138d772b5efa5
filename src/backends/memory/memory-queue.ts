/**
 * The in-memory queue: the reference implementation of the queue contract, for tests and single-process runs.
 *
 * Every time (delays, release back-off, reservation expiry, waiting) is read from the injected clock, so a
 * test drives it with a ManualClock. Each message is in exactly one place: `ready` (visible now), `delayed`
 * (visible at `visibleAt`), `reserved` (until `expiresAt`), or the dead letters. Moves between those
 * places happen in synchronous steps, so concurrent receivers can never reserve the same message twice.
 * Expiry is applied lazily: before any read of a queue, due delayed messages and expired reservations are
 * moved to `ready`. A redriven dead letter becomes a fresh entry (attempt 1) with its old `seq`. `reclaim` expires,
 * now, every reservation whose holder (`ReceiveOptions.consumer`) is not the one named.
 */
import { randomUUID } from 'node:crypto';
import type { Message, QueueName } from '../../engine/messages.js';
import { PRIORITY, QUEUE_NAMES } from '../../engine/messages.js';
import type { Clock } from '../clock.js';
import type {
  UnreadableDeadLetter,
  DeadLetter,
  Delivery,
  Queue,
  QueueDepth,
  ReceiveOptions,
  Release,
} from '../queue.js';
import { assertReceiveArguments } from '../queue.js';
import { sleepUnlessWoken, wakeAll } from '../wake.js';

interface Entry {
  readonly queue: QueueName;
  /** Send order: the tie-break after priority ("oldest first"), kept across redeliveries and releases. */
  readonly seq: number;
  readonly priority: number;
  /** The message as sent, as JSON: every delivery parses a fresh copy. */
  readonly json: string;
  /** 1 until a reservation expires; +1 per expiry. A release keeps it (the message did not kill a worker). */
  attempt: number;
  where: 'ready' | 'delayed' | 'reserved';
  /** When a delayed message becomes visible. */
  visibleAt: number;
  /** When the current reservation expires. */
  expiresAt: number;
  /** The latest reservation's receipt; honoured until the message is reserved again, acked, released or dead. */
  receipt: string | undefined;
  /** Who holds the current reservation (`ReceiveOptions.consumer`), if it said. */
  consumer: string | undefined;
}

interface QueueState {
  /** Sorted by (priority, seq): the head is the next message to deliver. */
  readonly ready: Entry[];
  /** Sorted by (visibleAt, seq): the head is the next message to become visible. */
  readonly delayed: Entry[];
  readonly reserved: Set<Entry>;
  /** In dead-letter order. `seq` and `priority` are kept so that a redriven message takes its old place again. */
  readonly dead: { readonly json: string; readonly reason: string; readonly seq: number; readonly priority: number }[];
  /** One controller per sleeping receive; aborting it wakes that receive to look again. */
  readonly waiters: Set<AbortController>;
}

/** Inserts `entry` into `list`, kept sorted by `before`, after any equal elements (stable, FIFO). */
function insertSorted(list: Entry[], entry: Entry, before: (a: Entry, b: Entry) => boolean): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(entry, list[mid] as Entry)) hi = mid;
    else lo = mid + 1;
  }
  list.splice(lo, 0, entry);
}

const byPriority = (a: Entry, b: Entry): boolean =>
  a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
const byVisibleAt = (a: Entry, b: Entry): boolean =>
  a.visibleAt < b.visibleAt || (a.visibleAt === b.visibleAt && a.seq < b.seq);

/**
 * A {@link Queue} held in process memory, on an injected {@link Clock}.
 * @example
 * const clock = new ManualClock();
 * const queue = new MemoryQueue({ clock });
 * await queue.send([{ id: 'm1', queue: 'activities', instanceId: 'i1', body: request, deliverAt: clock.now() + 5000 }]);
 * clock.advance(5000);
 * const [delivery] = await queue.receive('activities', 1, { visibilityTimeoutMs: 30_000 });
 * if (delivery) await queue.ack(delivery);
 */
export class MemoryQueue implements Queue {
  private readonly clock: Clock;
  private readonly queues = new Map<QueueName, QueueState>();
  /** Receipt → entry, for the latest reservation of every message still in a queue. */
  private readonly receipts = new Map<string, Entry>();
  private nextSeq = 0;
  private closed = false;

  constructor(options: { clock: Clock }) {
    this.clock = options.clock;
  }

  send(messages: readonly Message[]): Promise<void> {
    const now = this.clock.now();
    // Validate everything before changing anything: a send is all or nothing.
    let parsed: { json: string; message: Message }[];
    try {
      parsed = messages.map((m) => {
        if (!QUEUE_NAMES.includes(m.queue)) throw new Error(`Unknown queue '${String(m.queue)}' on message ${m.id}.`);
        const json = JSON.stringify(m); // throws on values JSON cannot carry (BigInt, cycles)
        return { json, message: JSON.parse(json) as Message };
      });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const touched = new Set<QueueName>();
    for (const { json, message } of parsed) {
      const priority =
        typeof message.priority === 'number' && Number.isFinite(message.priority) ? message.priority : PRIORITY.work;
      const visibleAt = typeof message.deliverAt === 'number' ? message.deliverAt : now;
      const entry: Entry = {
        queue: message.queue,
        seq: this.nextSeq++,
        priority,
        json,
        attempt: 1,
        where: 'ready',
        visibleAt,
        expiresAt: 0,
        receipt: undefined,
        consumer: undefined,
      };
      this.makeAvailable(entry, now);
      touched.add(message.queue);
    }
    for (const queue of touched) this.wake(queue);
    return Promise.resolve();
  }

  async receive(queue: QueueName, max: number, options: ReceiveOptions): Promise<Delivery[]> {
    assertReceiveArguments(max, options);
    const { visibilityTimeoutMs, signal } = options;
    const deadline = this.clock.now() + Math.max(0, options.waitMs ?? 0);
    for (;;) {
      if (this.closed) return [];
      const taken = this.take(queue, max, visibilityTimeoutMs, options.consumer);
      if (taken.length > 0 || signal?.aborted === true) return taken;
      const now = this.clock.now();
      if (now >= deadline) return [];
      // Sleep until the wait ends or the next message becomes visible on its own, whichever is first. Sends and
      // releases (the only other ways a message becomes visible) wake us through `wake`, so nothing is missed.
      // (`next` is always in the future after `take`; the guard keeps a broken invariant from spinning.)
      const next = this.nextVisible(this.state(queue));
      const wakeAt = next !== undefined && next > now ? Math.min(deadline, next) : deadline;
      await this.sleep(queue, wakeAt - now, signal);
    }
  }

  ack(delivery: Delivery): Promise<void> {
    const entry = this.current(delivery);
    if (entry !== undefined) this.detach(entry);
    return Promise.resolve();
  }

  release(delivery: Delivery, delayMs = 0): Promise<void> {
    const entry = this.current(delivery);
    if (entry !== undefined) {
      this.detach(entry);
      const now = this.clock.now();
      entry.visibleAt = now + Math.max(0, delayMs);
      this.makeAvailable(entry, now);
      this.wake(entry.queue);
    }
    return Promise.resolve();
  }

  async settle(batch: { readonly ack?: readonly Delivery[]; readonly release?: readonly Release[] }): Promise<void> {
    for (const delivery of batch.ack ?? []) await this.ack(delivery);
    for (const { delivery, delayMs } of batch.release ?? []) await this.release(delivery, delayMs);
  }

  deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const entry = this.current(delivery);
    if (entry !== undefined) {
      this.detach(entry);
      this.state(entry.queue).dead.push({ json: entry.json, reason, seq: entry.seq, priority: entry.priority });
    }
    return Promise.resolve();
  }

  depth(queue: QueueName): Promise<QueueDepth> {
    const state = this.refresh(queue);
    return Promise.resolve({
      ready: state.ready.length,
      delayed: state.delayed.length,
      reserved: state.reserved.size,
      dead: state.dead.length,
    });
  }

  deadLetters(queue: QueueName): Promise<DeadLetter[]> {
    const dead = this.state(queue).dead.map((d) => ({ message: JSON.parse(d.json) as Message, reason: d.reason }));
    return Promise.resolve(dead);
  }

  touch(delivery: Delivery, visibilityTimeoutMs: number): Promise<boolean> {
    if (!(visibilityTimeoutMs >= 0)) {
      return Promise.reject(new Error(`touch: bad visibilityTimeoutMs ${visibilityTimeoutMs}.`));
    }
    const entry = this.current(delivery);
    if (entry === undefined) return Promise.resolve(false);
    // Time first: a reservation that has expired is over (the message is ready again), so it cannot be extended.
    this.refresh(entry.queue);
    if (entry.where !== 'reserved') return Promise.resolve(false);
    entry.expiresAt = this.clock.now() + visibilityTimeoutMs;
    return Promise.resolve(true);
  }

  redrive(queue: QueueName, messageIds?: readonly string[]): Promise<Message[]> {
    const state = this.state(queue);
    const wanted = messageIds === undefined ? undefined : new Set(messageIds);
    const now = this.clock.now();
    const kept: QueueState['dead'] = [];
    const redriven: Message[] = [];
    for (const dead of state.dead) {
      const message = JSON.parse(dead.json) as Message;
      if (wanted !== undefined && !wanted.has(message.id)) {
        kept.push(dead);
        continue;
      }
      // A fresh delivery (attempt 1, no receipt), visible now whatever its deliverAt, in its old send order.
      const entry: Entry = {
        queue,
        seq: dead.seq,
        priority: dead.priority,
        json: dead.json,
        attempt: 1,
        where: 'ready',
        visibleAt: now,
        expiresAt: 0,
        receipt: undefined,
        consumer: undefined,
      };
      this.makeAvailable(entry, now);
      redriven.push(message);
    }
    state.dead.splice(0, state.dead.length, ...kept);
    if (redriven.length > 0) this.wake(queue);
    return Promise.resolve(redriven);
  }

  /** None: every dead letter here is a message this queue serialised itself. */
  unreadableDeadLetters(queue: QueueName): Promise<UnreadableDeadLetter[]> {
    this.state(queue);
    return Promise.resolve([]);
  }

  deleteDeadLetters(queue: QueueName, ids?: readonly string[]): Promise<string[]> {
    const state = this.state(queue);
    const wanted = ids === undefined ? undefined : new Set(ids);
    const deleted: string[] = [];
    const kept = state.dead.filter((dead) => {
      const id = (JSON.parse(dead.json) as Message).id;
      if (wanted !== undefined && !wanted.has(id)) return true;
      deleted.push(id);
      return false;
    });
    state.dead.splice(0, state.dead.length, ...kept);
    return Promise.resolve(deleted);
  }

  nextVisibleAt(queue: QueueName): Promise<number | undefined> {
    return Promise.resolve(this.nextVisible(this.refresh(queue)));
  }

  reclaim(except: string): Promise<number> {
    let reclaimed = 0;
    for (const queue of QUEUE_NAMES) {
      // Time first, so that a reservation that had already expired is counted once, by `refresh`, not twice.
      const state = this.refresh(queue);
      const now = this.clock.now();
      let any = false;
      for (const entry of state.reserved) {
        if (entry.consumer === except) continue;
        entry.expiresAt = now;
        any = true;
        reclaimed += 1;
      }
      if (!any) continue;
      this.refresh(queue); // expires them exactly as time would: attempt + 1, receipt kept
      this.wake(queue);
    }
    return Promise.resolve(reclaimed);
  }

  /** Wakes every waiting receive (they return what is there); later receives return nothing. */
  close(): Promise<void> {
    this.closed = true;
    for (const queue of this.queues.keys()) this.wake(queue);
    return Promise.resolve();
  }

  private state(queue: QueueName): QueueState {
    let state = this.queues.get(queue);
    if (state === undefined) {
      state = { ready: [], delayed: [], reserved: new Set(), dead: [], waiters: new Set() };
      this.queues.set(queue, state);
    }
    return state;
  }

  /** The queue with time applied: due delayed messages and expired reservations moved to `ready`. */
  private refresh(queue: QueueName): QueueState {
    const state = this.state(queue);
    const now = this.clock.now();
    while (state.delayed.length > 0 && (state.delayed[0] as Entry).visibleAt <= now) {
      const entry = state.delayed.shift() as Entry;
      entry.where = 'ready';
      insertSorted(state.ready, entry, byPriority);
    }
    for (const entry of state.reserved) {
      if (entry.expiresAt > now) continue;
      // A worker kept it past its visibility timeout (it probably died): deliver it again, counting the attempt.
      // The old receipt stays valid until someone else reserves the message, so a late ack still lands.
      state.reserved.delete(entry);
      entry.attempt += 1;
      entry.where = 'ready';
      insertSorted(state.ready, entry, byPriority);
    }
    return state;
  }

  /** Reserves up to `max` visible messages, best first, in one synchronous step. */
  private take(queue: QueueName, max: number, visibilityTimeoutMs: number, consumer: string | undefined): Delivery[] {
    const state = this.refresh(queue);
    const now = this.clock.now();
    return state.ready.splice(0, max).map((entry) => {
      if (entry.receipt !== undefined) this.receipts.delete(entry.receipt); // the previous holder's is now stale
      const receipt = `${queue}:${entry.seq}:${randomUUID()}`;
      entry.receipt = receipt;
      entry.where = 'reserved';
      entry.expiresAt = now + visibilityTimeoutMs;
      entry.consumer = consumer;
      state.reserved.add(entry);
      this.receipts.set(receipt, entry);
      return { message: JSON.parse(entry.json) as Message, receipt, attempt: entry.attempt };
    });
  }

  /** The entry a delivery still speaks for, or undefined when its receipt is unknown or stale. */
  private current(delivery: Delivery): Entry | undefined {
    const entry = this.receipts.get(delivery.receipt);
    return entry !== undefined && entry.receipt === delivery.receipt ? entry : undefined;
  }

  /** Takes an entry out of wherever it is and ends its reservation. */
  private detach(entry: Entry): void {
    const state = this.state(entry.queue);
    if (entry.where === 'reserved') state.reserved.delete(entry);
    else {
      const list = entry.where === 'ready' ? state.ready : state.delayed;
      const index = list.indexOf(entry);
      if (index >= 0) list.splice(index, 1);
    }
    if (entry.receipt !== undefined) this.receipts.delete(entry.receipt);
    entry.receipt = undefined;
  }

  /** Puts an entry in `ready` or `delayed` according to its `visibleAt`. */
  private makeAvailable(entry: Entry, now: number): void {
    const state = this.state(entry.queue);
    if (entry.visibleAt > now) {
      entry.where = 'delayed';
      insertSorted(state.delayed, entry, byVisibleAt);
    } else {
      entry.where = 'ready';
      insertSorted(state.ready, entry, byPriority);
    }
  }

  /** When the next delayed or reserved message of a refreshed queue becomes visible by itself. */
  private nextVisible(state: QueueState): number | undefined {
    let next = state.delayed[0]?.visibleAt;
    for (const entry of state.reserved) if (next === undefined || entry.expiresAt < next) next = entry.expiresAt;
    return next;
  }

  /** Sleeps on the clock for `ms`, waking early on `wake(queue)` or when `signal` aborts. */
  private sleep(queue: QueueName, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return sleepUnlessWoken(this.clock, this.state(queue).waiters, ms, signal);
  }

  /** Wakes every receive waiting on `queue`, to look again. */
  private wake(queue: QueueName): void {
    const waiters = this.state(queue).waiters;
    wakeAll(waiters);
    waiters.clear();
  }
}
