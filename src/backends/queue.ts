/**
 * The queue contract: messages in transit.
 *
 * WHAT IS IN THE CONTRACT
 * - Two named queues, `orchestrations` and `activities`. `send` is durable once it resolves.
 * - Delay: a message with `deliverAt` is not delivered before that time (on the queue's clock). Timers and
 *   retry back-off are delayed messages.
 * - Priority: among visible messages, lower `priority` first (default {@link PRIORITY}.work), then oldest.
 * - `receive` reserves up to `max` visible messages for `visibilityTimeoutMs`. A reservation that is neither
 *   acknowledged, released nor dead-lettered in time expires and the message is delivered again with
 *   `attempt + 1` (a worker died): delivery is **at least once**.
 * - `ack` removes the message; `release` makes it visible again after a delay (same message, `attempt` kept);
 *   `deadLetter` parks it with a reason, out of the way, counted in `depth().dead` and listed by `deadLetters`.
 * - `touch` extends a live reservation by `visibilityTimeoutMs` from now (a heartbeat for long activities); it
 *   returns false, changing nothing, when the receipt is stale.
 * - `redrive` (beanstalkd's "kick") makes dead letters deliverable again, now, as fresh messages (`attempt` 1),
 *   and forgets their reasons; `deleteDeadLetters` removes them for good. Bytes that are not a message are dead
 *   letters too (`unreadableDeadLetters`), so that nothing parked is invisible to an operator.
 * - Operations on a stale receipt (its reservation expired and the message was delivered again) are no-ops. A
 *   receipt whose reservation expired but which nobody has reserved again may still be honoured (beanstalkd does).
 * - Boundaries: a delayed message is visible once `now >= deliverAt`; a reservation expires at `now >= expiry`.
 * - Optional, `reclaim(except)`: a reservation may name its holder (`ReceiveOptions.consumer`, in practice a boot id:
 *   a random id per process start). `reclaim` ends now every reservation not held by `except`, exactly as if it had
 *   expired (`attempt + 1`, so a message that kills its process each time is still dead-lettered after
 *   `maxDeliveries`), and returns how many it ended. A restarted process that alone consumes the queue calls it once
 *   at start, so that its dead predecessor's messages come back in seconds instead of after their lease. The
 *   embedded adapters (memory, SQLite) have it. Beanstalkd does not need it: a dead worker's connection closes and
 *   the server releases its jobs at once.
 *
 * WHAT IS DELIBERATELY NOT
 * - No exactly-once delivery and no deduplication: the same message may arrive twice (a re-sent outbox, a
 *   redelivery). Receivers drop duplicates by message id; that is the engine's job.
 * - No ordering guarantee between messages beyond priority and age; the engine does not need one.
 * - No transactions with the store.
 * - No liveness check behind `reclaim`: the queue cannot tell a dead holder from a live one, so the caller must
 *   know that no other consumer is alive (one process owns the queue). Called while other processes consume, it
 *   takes their live reservations away and their messages run twice (correct, since delivery is at least once,
 *   but wasted work).
 */
import type { Message, QueueName } from '../engine/messages.js';

export interface Delivery {
  readonly message: Message;
  /** Opaque handle for ack/release/deadLetter of this reservation. */
  readonly receipt: string;
  /** 1 on first delivery; +1 each time a reservation expired (a `release` keeps it: the worker did not die). */
  readonly attempt: number;
}

export interface ReceiveOptions {
  /** How long the reservation lasts before the message is delivered again. */
  readonly visibilityTimeoutMs: number;
  /** Wait up to this long (on the queue's clock) for a message; 0 returns at once. */
  readonly waitMs?: number;
  /** Stops waiting early (returns what is there, possibly nothing). */
  readonly signal?: AbortSignal;
  /**
   * Who holds the reservations taken (a boot id), for `reclaim`. Adapters that support `reclaim` may take a default
   * at construction; a reservation without a holder is held by nobody, so any `reclaim` takes it back.
   */
  readonly consumer?: string;
}

export interface QueueDepth {
  /** Visible now. */
  readonly ready: number;
  /** Waiting for their `deliverAt` or a release delay. */
  readonly delayed: number;
  /** Reserved by a worker. */
  readonly reserved: number;
  readonly dead: number;
}

export interface Release {
  readonly delivery: Delivery;
  readonly delayMs: number;
}

export interface DeadLetter {
  readonly message: Message;
  readonly reason: string;
}

/** A kind of work a worker may serve. Entity-bound messages travel on the `orchestrations` queue. */
export type WorkKind = 'orchestrations' | 'entities' | 'activities';

/**
 * Which work a queue's receives take, for a worker that serves part of it (a pool per kind or per function). Each
 * adapter interprets it in its own terms (Beanstalkd: the tubes it reserves from); a queue that cannot split work
 * delivers everything and may ignore it, so the host refuses selections such a queue could not honour.
 * @example
 * const selection: WorkSelection = { kinds: ['activities'], functions: { activities: ['charge'] } };
 */
export interface WorkSelection {
  /** Kinds of work to take. Default: all three. */
  readonly kinds?: readonly WorkKind[];
  /** Only these activities and entity types (by name), per kind. Default: all of a selected kind's work. */
  readonly functions?: { readonly activities?: readonly string[]; readonly entities?: readonly string[] };
}

/**
 * A dead letter whose bytes are not a message: a job put on a Beanstalkd tube by something other than Durable, or
 * a claim-checked body whose claim is gone. Listed so that an operator sees it, and deletable or redrivable (once
 * its claim is back) by `id`. Adapters whose dead letters are always messages they wrote have none.
 */
export interface UnreadableDeadLetter {
  /** The adapter's id for it (Beanstalkd: `job-<job id>`); message ids always contain `/`, so they never clash. */
  readonly id: string;
  /** Where it lies, in the adapter's terms (Beanstalkd: the tube). */
  readonly location: string;
  /** Its bytes, base64-encoded: lossless whatever they are. */
  readonly base64: string;
  readonly reason: string;
}

export interface Queue {
  send(messages: readonly Message[]): Promise<void>;
  receive(queue: QueueName, max: number, options: ReceiveOptions): Promise<Delivery[]>;
  ack(delivery: Delivery): Promise<void>;
  release(delivery: Delivery, delayMs?: number): Promise<void>;
  deadLetter(delivery: Delivery, reason: string): Promise<void>;
  /**
   * Acknowledges and releases many deliveries at once (one durable write where the backend can). Each item obeys
   * the rules of `ack` and `release`; stale receipts are skipped.
   */
  settle(batch: { readonly ack?: readonly Delivery[]; readonly release?: readonly Release[] }): Promise<void>;
  depth(queue: QueueName): Promise<QueueDepth>;
  deadLetters(queue: QueueName): Promise<DeadLetter[]>;
  /** Extends a live reservation to `now + visibilityTimeoutMs`; false (and nothing changes) for a stale receipt. */
  touch(delivery: Delivery, visibilityTimeoutMs: number): Promise<boolean>;
  /**
   * Puts dead letters of `queue` back, visible now with attempt 1: all of them, or only those whose message id is
   * in `messageIds` (unknown ids are ignored). Returns the messages put back, in dead-letter order.
   */
  redrive(queue: QueueName, messageIds?: readonly string[]): Promise<Message[]>;
  /**
   * Unreadable dead letters of `queue`, in dead-letter order (not in `deadLetters`, which lists messages). `redrive`
   * puts them back too, as they are (all of them, or those whose `id` is in `messageIds`), but returns only messages.
   */
  unreadableDeadLetters(queue: QueueName): Promise<UnreadableDeadLetter[]>;
  /**
   * Deletes dead letters of `queue` for good: all of them, or those whose message id (or unreadable `id`) is in
   * `ids` (unknown ids are ignored). Returns the ids deleted, in dead-letter order.
   */
  deleteDeadLetters(queue: QueueName, ids?: readonly string[]): Promise<string[]>;
  /**
   * Optional. Ends at once every reservation, in both queues, not held by consumer `except`, as an expiry would
   * (visible now, `attempt + 1`; the old receipt is honoured until the message is reserved again). Returns how
   * many reservations it ended. Only for a consumer that knows every other holder is dead (see the header).
   * @example
   * const reclaimed = (await queue.reclaim?.(bootId)) ?? 0; // at start, before receiving anything
   */
  reclaim?(except: string): Promise<number>;
  /** Epoch ms at which the next delayed or reserved message becomes visible, if any (time skipping). */
  nextVisibleAt(queue: QueueName): Promise<number | undefined>;
  /**
   * Optional, for queues that route by partition (Beanstalkd with `partitions`): from now on, receive only the
   * orchestration and entity messages of the partitions in `held` (backends/partitions.ts).
   */
  watchPartitions?(held: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

/** Throws on receive arguments that break the contract (shared by the adapters). */
export function assertReceiveArguments(max: number, options: ReceiveOptions): void {
  if (!Number.isInteger(max) || max < 1) throw new Error(`receive: max must be a positive integer, got ${max}.`);
  if (!(options.visibilityTimeoutMs >= 0))
    throw new Error(`receive: bad visibilityTimeoutMs ${options.visibilityTimeoutMs}.`);
}
