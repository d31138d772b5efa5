/**
 * The queue contract on beanstalkd.
 *
 * Tubes: one per kind, or per function for activities and entities (see beanstalkd-tubes.ts). Each contract queue
 * has one connection that `watch`es that queue's tubes (those this worker serves) and reserves from them, so a
 * reserve can never return a job of the other queue; puts go through one connection per tube that `use`s it.
 * Dead-letter reasons live in `<namespace>.<queue>.dead-reasons`.
 *
 * How the contract maps:
 * - priority → job priority (same order: lower first; ties by job id, i.e. send order).
 * - `deliverAt` → `put` delay in whole seconds rounded **up**. A job reserved before its `deliverAt` (rounding,
 *   or clocks of different machines) is released again for the remaining time instead of being delivered.
 * - visibility → the job's TTR, fixed by beanstalkd when the job is **put**: it comes from the `ttrMs` option
 *   per queue (default 10 s orchestrations, 300 s activities), not from `receive`'s `visibilityTimeoutMs`,
 *   which beanstalkd cannot change per reservation. `touch` gives the job a whole TTR again from now.
 * - attempt = `reserves - releases` from `stats-job`: 1 on first delivery, +1 for each reservation that ended
 *   without a release (TTR expired, or the holder's connection dropped: a worker died), kept by `release`.
 * - ack = `delete`, release = `release` with delay, deadLetter = `bury` plus a reason record (buried jobs carry
 *   no text): `{ job, reason }` put in the reasons tube *before* the bury, so a buried job never lacks a reason.
 *   `deadLetters` reserves every record, peeks each buried job, releases the records again, and deletes
 *   records whose job is no longer buried (kicked or deleted).
 * - redrive puts a fresh copy of each buried job (attempt 1: a `kick` would keep the job's reserve count, and
 *   the poison check would bury it again at once), then deletes the buried job and its reason. A crash in
 *   between leaves a duplicate, which receivers drop by message id, never a loss. An unreadable job (bytes that
 *   are not a message, or a claim that is gone; buried by `receive` with a reason) is listed by
 *   `unreadableDeadLetters` as `job-<id>` with its tube and bytes, `kick-job`ed by redrive and deleted by
 *   `deleteDeadLetters` like any dead letter.
 * - depth from `stats-tube`, summed over the watched tubes; `tubeDepths` gives them one by one (metrics,
 *   autoscaling). `nextVisibleAt` is always undefined: beanstalkd does not tell when the next delayed job is due
 *   without walking the jobs, and its clock is its own (no time skipping).
 * - Waiting: `receive` polls with `reserve-with-timeout 0` (never blocking, so acks pipelined on the same
 *   connection are never stuck behind a waiting reserve) and sleeps on the clock between polls, woken at once
 *   by sends and releases of this process; messages from other processes are seen within `pollIntervalMs`.
 * - Receipts are `<jobId>:<epoch>:<token>`. beanstalkd only checks that the job is reserved by this connection,
 *   and this one connection serves all receives of the process, so a local token per reservation tells a stale
 *   receipt from the current one; after a reconnection (new epoch) all earlier receipts are stale, since
 *   beanstalkd released their jobs when the old connection closed.
 * - Payloads over `maxJobBytes` go through the claim store (see claim-store.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Message, QueueName } from '../../engine/messages.js';
import { PRIORITY, QUEUE_NAMES } from '../../engine/messages.js';
import type { Clock } from '../clock.js';
import { SystemClock } from '../clock.js';
import type {
  DeadLetter,
  Delivery,
  Queue,
  QueueDepth,
  ReceiveOptions,
  Release,
  UnreadableDeadLetter,
  WorkSelection,
} from '../queue.js';
import { assertReceiveArguments } from '../queue.js';
import { sleepUnlessWoken, wakeAll } from '../wake.js';
import type { Reply } from './beanstalkd-connection.js';
import { BeanstalkdConnection } from './beanstalkd-connection.js';
import { parseStats, secondsUp, toBeanstalkdPriority, unexpected } from './beanstalkd-protocol.js';
import type { ClaimStore } from './claim-store.js';
import type { TubeRouting } from './beanstalkd-tubes.js';
import { BeanstalkdTubes } from './beanstalkd-tubes.js';

export interface BeanstalkdQueueOptions {
  readonly host?: string;
  readonly port?: number;
  /** Tube prefix. Default `durable`. */
  readonly namespace?: string;
  /** One tube per kind (default), or per function for activities and entities. */
  readonly tubes?: TubeRouting;
  /** The work this queue's receives take, as tubes (default all; names required with per-function tubes). */
  readonly serves?: WorkSelection;
  /** TTR of the jobs put on each queue. */
  readonly ttrMs?: Partial<Record<QueueName, number>>;
  /** Used for `deliverAt` and for waiting. Default: the system clock. */
  readonly clock?: Clock;
  /** Where bodies over `maxJobBytes` go; without it such a send rejects. */
  readonly claimStore?: ClaimStore;
  /** beanstalkd's `-z` (default 65 535). */
  readonly maxJobBytes?: number;
  /** How often a waiting receive looks for messages sent by other processes. Default 50 ms. */
  readonly pollIntervalMs?: number;
  /** How long commands wait for a lost connection to come back. Default 10 s. */
  readonly reconnectTimeoutMs?: number;
  /**
   * Orchestration and entity tubes split by partition (partitions.ts; 0: not split). Every process of a deployment
   * must use the same number. Receives take every partition until `watchPartitions` says otherwise.
   */
  readonly partitions?: number;
}

/** The most reserves sent in one pipelined wave (see `take`). */
const MAX_RESERVE_WAVE = 64;

const DEFAULT_TTR_MS: Record<QueueName, number> = { orchestrations: 10_000, activities: 300_000 };

/** A reservation this process holds. */
interface Held {
  readonly token: string;
  readonly epoch: number;
  readonly priority: number;
  /** The claim-check key when the body lives in the claim store. */
  readonly claim: string | undefined;
}

interface Lane {
  /** The tubes this queue reserves from now (none: this worker serves none of the queue's work, or no partition). */
  watching: readonly string[];
  /** Every tube of the lane's work, whichever partitions are held: what the depth gauge reports. */
  readonly all: readonly string[];
  readonly work: BeanstalkdConnection;
  readonly reasons: BeanstalkdConnection;
  readonly held: Map<string, Held>;
  readonly waiters: Set<AbortController>;
}

/**
 * A {@link Queue} on a beanstalkd server.
 * @example
 * const queue = new BeanstalkdQueue({ host: '127.0.0.1', port: 11300, namespace: 'shop' });
 * await queue.send([message]);
 * const [delivery] = await queue.receive('activities', 10, { visibilityTimeoutMs: 300_000, waitMs: 5000 });
 * if (delivery) await queue.ack(delivery);
 * await queue.close();
 */
export class BeanstalkdQueue implements Queue {
  private readonly clock: Clock;
  private readonly tubes: BeanstalkdTubes;
  private readonly lanes: Record<QueueName, Lane>;
  /** One `use`-ing connection per tube put to, made on first use. */
  private readonly producers = new Map<string, BeanstalkdConnection>();
  private readonly maxJobBytes: number;
  private readonly pollIntervalMs: number;
  private closed = false;

  constructor(private readonly options: BeanstalkdQueueOptions = {}) {
    this.clock = options.clock ?? new SystemClock();
    this.maxJobBytes = options.maxJobBytes ?? 65_535;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    this.tubes = new BeanstalkdTubes(options.namespace ?? 'durable', options.tubes ?? 'kind', options.partitions ?? 0);
    const lane = (queue: QueueName): Lane => {
      const all = this.tubes.watched(queue, options.serves);
      const reasons = this.tubes.reasons(queue);
      const made: Omit<Lane, 'work'> = {
        watching: all,
        all,
        reasons: this.connection([`use ${reasons}`, `watch ${reasons}`, 'ignore default']),
        held: new Map(),
        waiters: new Set(),
      };
      // Replayed on every (re)connection, so it follows the partitions watched at that moment. Watching nothing
      // means never reserving (see `take`), so the default tube may stay watched then.
      const work = this.connection(() => [
        ...made.watching.map((t) => `watch ${t}`),
        ...(made.watching.length > 0 ? ['ignore default'] : []),
      ]);
      return Object.assign(made, { work });
    };
    this.lanes = { orchestrations: lane('orchestrations'), activities: lane('activities') };
  }

  /**
   * With partitions: reserve only the orchestration and entity messages of the partitions in `held` from now on
   * (a worker calls it whenever its partition leases change). A message of a partition given up that was reserved
   * just before goes back when its turn finds the partition no longer held. Without partitions it does nothing.
   */
  async watchPartitions(held: readonly number[]): Promise<void> {
    if (this.tubes.partitions === 0 || this.closed) return;
    const lane = this.lanes.orchestrations;
    const next = this.tubes.watched(
      'orchestrations',
      this.options.serves,
      [...new Set(held)].sort((a, b) => a - b),
    );
    const before = new Set(lane.watching);
    const after = new Set(next);
    lane.watching = next;
    // Beanstalkd refuses to ignore a connection's last watched tube: `default` is watched while nothing else is.
    const commands = [
      ...(next.length === 0 && before.size > 0 ? ['watch default'] : []),
      ...next.filter((t) => !before.has(t)).map((t) => `watch ${t}`),
      ...[...before].filter((t) => !after.has(t)).map((t) => `ignore ${t}`),
      ...(next.length > 0 && before.size === 0 ? ['ignore default'] : []),
    ];
    const replies = await Promise.all(commands.map((command) => lane.work.command(command)));
    const refused = replies.find((reply) => reply.words[0] !== 'WATCHING');
    if (refused !== undefined) throw unexpected('watch/ignore', refused);
    wakeAll(lane.waiters);
  }

  async send(messages: readonly Message[]): Promise<void> {
    // Validate and serialise everything before putting anything: a bad message fails the whole send.
    const jobs = messages.map((m) => {
      if (!QUEUE_NAMES.includes(m.queue)) throw new Error(`Unknown queue '${String(m.queue)}' on message ${m.id}.`);
      const json = JSON.stringify(m);
      if (Buffer.byteLength(json) > this.maxJobBytes && this.options.claimStore === undefined) {
        throw new Error(`Message ${m.id} exceeds beanstalkd's ${this.maxJobBytes} bytes and no claim store is set.`);
      }
      return { message: m, json, tube: this.tubes.tubeOf(m) };
    });
    const now = this.clock.now();
    await Promise.all(
      jobs.map(async ({ message, json, tube }) => {
        let body = json;
        if (Buffer.byteLength(json) > this.maxJobBytes) {
          const claim = `${message.id}#${randomUUID()}`;
          await (this.options.claimStore as ClaimStore).put(claim, json);
          body = JSON.stringify({ claim });
        }
        const data = Buffer.from(body);
        const priority = toBeanstalkdPriority(message.priority, PRIORITY.work);
        const delay = secondsUp((message.deliverAt ?? now) - now);
        const ttr = Math.max(1, secondsUp(this.options.ttrMs?.[message.queue] ?? DEFAULT_TTR_MS[message.queue]));
        const line = `put ${priority} ${delay} ${ttr} ${data.length}`;
        const reply = await this.producer(tube).command(line, data);
        if (reply.words[0] !== 'INSERTED') throw unexpected('put', reply);
      }),
    );
    for (const queue of new Set(jobs.map((j) => j.message.queue))) wakeAll(this.lanes[queue].waiters);
  }

  async receive(queue: QueueName, max: number, options: ReceiveOptions): Promise<Delivery[]> {
    assertReceiveArguments(max, options);
    const lane = this.lane(queue);
    const deadline = this.clock.now() + Math.max(0, options.waitMs ?? 0);
    for (;;) {
      if (this.closed) return [];
      const taken = await this.take(lane, max);
      if (taken.length > 0 || options.signal?.aborted === true) return taken;
      const now = this.clock.now();
      if (now >= deadline) return [];
      await sleepUnlessWoken(this.clock, lane.waiters, Math.min(deadline - now, this.pollIntervalMs), options.signal);
    }
  }

  async ack(delivery: Delivery): Promise<void> {
    const found = this.current(delivery);
    if (found === undefined) return;
    const { lane, id, held } = found;
    lane.held.delete(id);
    const reply = await lane.work.command(`delete ${id}`);
    if (reply.words[0] === 'DELETED' && held.claim !== undefined) await this.options.claimStore?.delete(held.claim);
  }

  async release(delivery: Delivery, delayMs = 0): Promise<void> {
    const found = this.current(delivery);
    if (found === undefined) return;
    const { lane, id, held } = found;
    lane.held.delete(id);
    await lane.work.command(`release ${id} ${held.priority} ${secondsUp(delayMs)}`);
    wakeAll(lane.waiters);
  }

  async settle(batch: { readonly ack?: readonly Delivery[]; readonly release?: readonly Release[] }): Promise<void> {
    // One connection per queue, pipelined: the whole batch costs about one round trip.
    await Promise.all([
      ...(batch.ack ?? []).map((d) => this.ack(d)),
      ...(batch.release ?? []).map((r) => this.release(r.delivery, r.delayMs)),
    ]);
  }

  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const found = this.current(delivery);
    if (found === undefined) return;
    const { lane, id, held } = found;
    lane.held.delete(id);
    const record = Buffer.from(JSON.stringify({ job: id, reason }));
    const put = await lane.reasons.command(`put 0 0 60 ${record.length}`, record);
    if (put.words[0] !== 'INSERTED') throw unexpected('put (dead reason)', put);
    await lane.work.command(`bury ${id} ${held.priority}`);
  }

  async touch(delivery: Delivery, visibilityTimeoutMs: number): Promise<boolean> {
    if (!(visibilityTimeoutMs >= 0)) throw new Error(`touch: bad visibilityTimeoutMs ${visibilityTimeoutMs}.`);
    const found = this.current(delivery);
    if (found === undefined) return false;
    // beanstalkd restarts the job's own TTR (set at put), whatever the caller asks for.
    const reply = await found.lane.work.command(`touch ${found.id}`);
    return reply.words[0] === 'TOUCHED';
  }

  async depth(queue: QueueName): Promise<QueueDepth> {
    const total = { ready: 0, delayed: 0, reserved: 0, dead: 0 };
    for (const { depth } of await this.tubeDepthsOf(this.lane(queue))) {
      total.ready += depth.ready;
      total.delayed += depth.delayed;
      total.reserved += depth.reserved;
      total.dead += depth.dead;
    }
    return total;
  }

  /** The depth of every tube this queue reserves from, one by one (for metrics and autoscaling). */
  async tubeDepths(): Promise<{ tube: string; depth: QueueDepth }[]> {
    const all = await Promise.all(QUEUE_NAMES.map((queue) => this.tubeDepthsOf(this.lanes[queue])));
    return all.flat();
  }

  async deadLetters(queue: QueueName): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    await this.withDeadLetters(this.lane(queue), ({ message, reason }) => {
      if (message !== undefined) out.push({ message, reason });
      return 'keep';
    });
    return out;
  }

  async redrive(queue: QueueName, messageIds?: readonly string[]): Promise<Message[]> {
    const lane = this.lane(queue);
    const wanted = messageIds === undefined ? undefined : new Set(messageIds);
    const out: Message[] = [];
    let woken = false;
    await this.withDeadLetters(lane, async ({ job, message, body, stats }) => {
      if (message === undefined) {
        // Unreadable: kicked back as it is, for when its claim is back; still unreadable, it is buried again.
        if (wanted !== undefined && !wanted.has(unreadableId(job))) return 'keep';
        const kicked = await lane.work.command(`kick-job ${job}`);
        if (kicked.words[0] !== 'KICKED' && kicked.words[0] !== 'NOT_FOUND') throw unexpected('kick-job', kicked);
        woken = true;
        return 'forget';
      }
      if (wanted !== undefined && !wanted.has(message.id)) return 'keep';
      // The same body (a claim reference stays valid: deleting a buried job never touches the claim store).
      const ttr = typeof stats.ttr === 'number' ? stats.ttr : 60;
      const priority = typeof stats.pri === 'number' ? stats.pri : PRIORITY.work;
      const put = await this.producer(this.tubes.tubeOf(message)).command(
        `put ${priority} 0 ${ttr} ${body.length}`,
        body,
      );
      if (put.words[0] !== 'INSERTED') throw unexpected('put (redrive)', put);
      await lane.work.command(`delete ${job}`);
      out.push(message);
      return 'forget';
    });
    if (out.length > 0 || woken) wakeAll(lane.waiters);
    return out;
  }

  async unreadableDeadLetters(queue: QueueName): Promise<UnreadableDeadLetter[]> {
    const out: UnreadableDeadLetter[] = [];
    await this.withDeadLetters(this.lane(queue), ({ job, reason, message, body, stats }) => {
      if (message === undefined) {
        const location = typeof stats.tube === 'string' ? stats.tube : '';
        out.push({ id: unreadableId(job), location, base64: body.toString('base64'), reason });
      }
      return 'keep';
    });
    return out;
  }

  async deleteDeadLetters(queue: QueueName, ids?: readonly string[]): Promise<string[]> {
    const lane = this.lane(queue);
    const wanted = ids === undefined ? undefined : new Set(ids);
    const deleted: string[] = [];
    await this.withDeadLetters(lane, async ({ job, message, claim }) => {
      const id = message?.id ?? unreadableId(job);
      if (wanted !== undefined && !wanted.has(id)) return 'keep';
      const reply = await lane.work.command(`delete ${job}`);
      if (reply.words[0] !== 'DELETED' && reply.words[0] !== 'NOT_FOUND') throw unexpected('delete (dead)', reply);
      // The claim goes after the job: a crash in between leaves an orphan claim, never a job without its body.
      if (claim !== undefined) await this.options.claimStore?.delete(claim);
      deleted.push(id);
      return 'forget';
    });
    return deleted;
  }

  /** Not derivable from beanstalkd without walking its jobs; see the file notes. */
  nextVisibleAt(queue: QueueName): Promise<number | undefined> {
    this.lane(queue);
    return Promise.resolve(undefined);
  }

  /** Closes the connections: beanstalkd makes the jobs still reserved by them ready again at once. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const lane of Object.values(this.lanes)) {
      wakeAll(lane.waiters);
      lane.work.close();
      lane.reasons.close();
    }
    for (const producer of this.producers.values()) producer.close();
    return Promise.resolve();
  }

  private producer(tube: string): BeanstalkdConnection {
    let connection = this.producers.get(tube);
    if (connection === undefined) {
      connection = this.connection([`use ${tube}`]);
      this.producers.set(tube, connection);
    }
    return connection;
  }

  private async tubeDepthsOf(lane: Lane): Promise<{ tube: string; depth: QueueDepth }[]> {
    return Promise.all(
      lane.all.map(async (tube) => {
        const reply = await lane.work.command(`stats-tube ${tube}`);
        if (reply.words[0] === 'NOT_FOUND') return { tube, depth: { ready: 0, delayed: 0, reserved: 0, dead: 0 } };
        if (reply.words[0] !== 'OK') throw unexpected('stats-tube', reply);
        const stats = parseStats(reply);
        const count = (key: string): number => (typeof stats[key] === 'number' ? stats[key] : 0);
        const depth = {
          ready: count('current-jobs-ready'),
          delayed: count('current-jobs-delayed'),
          reserved: count('current-jobs-reserved'),
          dead: count('current-jobs-buried'),
        };
        return { tube, depth };
      }),
    );
  }

  /**
   * Walks a queue's dead letters in the order they were buried: reserves every reason record, hands each buried
   * job to `visit`, then deletes the records `visit` forgets (and those whose job is no longer buried: kicked or
   * deleted elsewhere) and releases the others, same ids, so the next walk sees them in the same order.
   */
  private async withDeadLetters(
    lane: Lane,
    visit: (dead: {
      job: string;
      reason: string;
      message: Message | undefined;
      /** The claim-check key when the body lives in the claim store. */
      claim: string | undefined;
      body: Buffer;
      stats: Record<string, number | string>;
    }) => 'keep' | 'forget' | Promise<'keep' | 'forget'>,
  ): Promise<void> {
    const records: { id: string; job: string; reason: string }[] = [];
    for (;;) {
      const reply = await lane.reasons.command('reserve-with-timeout 0');
      if (reply.words[0] !== 'RESERVED') break;
      const { job, reason } = JSON.parse((reply.body ?? Buffer.alloc(0)).toString('utf8')) as {
        job: string;
        reason: string;
      };
      records.push({ id: reply.words[1] as string, job, reason });
    }
    const forgotten = new Set<string>();
    try {
      for (const record of records) {
        const stats = await lane.work.command(`stats-job ${record.job}`);
        const peek = await lane.work.command(`peek ${record.job}`);
        const parsed = stats.words[0] === 'OK' ? parseStats(stats) : {};
        if (parsed.state !== 'buried' || peek.words[0] !== 'FOUND') {
          forgotten.add(record.id);
          continue;
        }
        const body = peek.body ?? Buffer.alloc(0);
        const { message, claim } = await this.decode(body);
        const verdict = await visit({ job: record.job, reason: record.reason, message, claim, body, stats: parsed });
        if (verdict === 'forget') forgotten.add(record.id);
      }
    } finally {
      await Promise.all(
        records.map((r) =>
          forgotten.has(r.id) ? lane.reasons.command(`delete ${r.id}`) : lane.reasons.command(`release ${r.id} 0 0`),
        ),
      );
    }
  }

  private connection(setup: readonly string[] | (() => readonly string[])): BeanstalkdConnection {
    return new BeanstalkdConnection({
      host: this.options.host ?? '127.0.0.1',
      port: this.options.port ?? 11300,
      setup,
      ...(this.options.reconnectTimeoutMs === undefined ? {} : { reconnectTimeoutMs: this.options.reconnectTimeoutMs }),
    });
  }

  private lane(queue: QueueName): Lane {
    if (!QUEUE_NAMES.includes(queue)) throw new Error(`Unknown queue '${String(queue)}'.`);
    return this.lanes[queue];
  }

  /**
   * Reserves up to `max` ready jobs without waiting. Beanstalkd reserves one job per command, so the reserves go out
   * in pipelined waves of 1, 2, 4, … (at most {@link MAX_RESERVE_WAVE}), each wave one round trip, and each wave's
   * `stats-job` lookups another: a batch of 100 costs about a dozen round trips rather than 200. The first wave is a
   * single reserve, so an empty tube costs one command per poll. Every RESERVED reply is kept, even one that follows
   * a TIMED_OUT in its wave (a job became ready in between): a reservation nobody tracks would sit until its TTR.
   */
  private async take(lane: Lane, max: number): Promise<Delivery[]> {
    const out: Delivery[] = [];
    if (lane.watching.length === 0) return out;
    let wave = 1;
    while (out.length < max) {
      const replies = await Promise.all(
        Array.from({ length: Math.min(wave, max - out.length) }, () => lane.work.command('reserve-with-timeout 0')),
      );
      const epoch = lane.work.epoch;
      const reserved = replies.filter((reply) => reply.words[0] === 'RESERVED');
      for (const delivery of await Promise.all(reserved.map((reply) => this.accept(lane, reply, epoch)))) {
        if (delivery !== undefined) out.push(delivery);
      }
      // TIMED_OUT (nothing ready) or DEADLINE_SOON (a reservation of ours is about to lapse): stop here.
      if (reserved.length < replies.length) return out;
      wave = Math.min(wave * 2, MAX_RESERVE_WAVE);
    }
    return out;
  }

  private async accept(lane: Lane, reply: Reply, epoch: number): Promise<Delivery | undefined> {
    const id = reply.words[1] as string;
    const stats = parseStats(await lane.work.command(`stats-job ${id}`));
    const priority = typeof stats.pri === 'number' ? stats.pri : PRIORITY.work;
    const { message, claim } = await this.decode(reply.body ?? Buffer.alloc(0));
    if (message === undefined) {
      // Unreadable (or its claim is gone): park it where an operator sees it, rather than loop on it.
      const record = Buffer.from(JSON.stringify({ job: id, reason: 'unreadable job body or missing claim' }));
      await lane.reasons.command(`put 0 0 60 ${record.length}`, record);
      await lane.work.command(`bury ${id} ${priority}`);
      return undefined;
    }
    const early = (message.deliverAt ?? 0) - this.clock.now();
    if (early > 0) {
      // Delays are whole seconds and clocks differ between machines: never deliver early, wait the rest.
      await lane.work.command(`release ${id} ${priority} ${secondsUp(early)}`);
      return undefined;
    }
    const reserves = typeof stats.reserves === 'number' ? stats.reserves : 1;
    const releases = typeof stats.releases === 'number' ? stats.releases : 0;
    const token = randomUUID();
    lane.held.set(id, { token, epoch, priority, claim });
    return { message, receipt: `${id}:${epoch}:${token}`, attempt: Math.max(1, reserves - releases) };
  }

  /** The message of a job body, fetching it from the claim store when the body is a claim. */
  private async decode(body: Buffer): Promise<{ message: Message | undefined; claim: string | undefined }> {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as Message | { claim: string; queue?: undefined };
      if (parsed.queue !== undefined) return { message: parsed, claim: undefined };
      const json = await this.options.claimStore?.get(parsed.claim);
      return { message: json === undefined ? undefined : (JSON.parse(json) as Message), claim: parsed.claim };
    } catch {
      return { message: undefined, claim: undefined };
    }
  }

  /** The lane and reservation a delivery still speaks for, or undefined when its receipt is stale or foreign. */
  private current(delivery: Delivery): { lane: Lane; id: string; held: Held } | undefined {
    const [id, epoch, token] = delivery.receipt.split(':');
    const lane = QUEUE_NAMES.includes(delivery.message.queue) ? this.lanes[delivery.message.queue] : undefined;
    if (lane === undefined || id === undefined) return undefined;
    const held = lane.held.get(id);
    if (held === undefined || held.token !== token || String(held.epoch) !== epoch) return undefined;
    if (held.epoch !== lane.work.epoch) {
      lane.held.delete(id); // beanstalkd released it when the old connection closed
      return undefined;
    }
    return { lane, id, held };
  }
}

/** The id of an unreadable dead letter: its job id, marked so that it can never equal a message id (those hold `/`). */
function unreadableId(job: string): string {
  return `job-${job}`;
}
